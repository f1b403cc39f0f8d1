// Installed by the benchmark (page.add_init_script) before any page script:
// timestamps on one clock shared by both browsers (performance.timeOrigin +
// performance.now(), i.e. wall-clock milliseconds), for the call page and the
// floor page alike. Nothing here changes what the pages do.
(() => {
  const clock = () => performance.timeOrigin + performance.now();
  const bench = { marks: {}, events: [] };
  window.__bench = bench;
  // First occurrence of each named moment (and a log of all of them).
  const mark = (name, at = clock()) => {
    if (!(name in bench.marks)) bench.marks[name] = at;
    bench.events.push([name, at]);
  };
  bench.mark = mark;

  // Pressing "Join call": a capture listener runs before the page's own handler.
  document.addEventListener(
    "click",
    (event) => {
      if (event.target instanceof Element && event.target.closest("#join-button")) mark("join");
    },
    true,
  );

  const gum = navigator.mediaDevices?.getUserMedia?.bind(navigator.mediaDevices);
  if (gum) {
    navigator.mediaDevices.getUserMedia = async (...args) => {
      mark("gum.asked");
      const stream = await gum(...args);
      mark("gum.resolved");
      return stream;
    };
  }

  // The socket: which frames went out and came in, and when.
  const NativeWebSocket = window.WebSocket;
  const frameName = (raw) => {
    try {
      const msg = JSON.parse(raw);
      let name = String(msg.type);
      if (msg.type === "signal" && msg.data) {
        if (msg.data.description) name += `.${msg.data.description.type}`;
        else if (msg.data.candidate) name += ".candidate";
      }
      return name;
    } catch {
      return "non-json";
    }
  };
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      mark("ws.connecting");
      this.addEventListener("open", () => mark("ws.open"));
      this.addEventListener("message", (event) => mark(`recv.${frameName(event.data)}`));
    }
    send(data) {
      mark(`send.${frameName(data)}`);
      return super.send(data);
    }
  };

  // The peer connection's states.
  const NativePeerConnection = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends NativePeerConnection {
    constructor(...args) {
      super(...args);
      mark("pc.created");
      this.addEventListener("icegatheringstatechange", () => mark(`gathering.${this.iceGatheringState}`));
      this.addEventListener("iceconnectionstatechange", () => mark(`ice.${this.iceConnectionState}`));
      this.addEventListener("connectionstatechange", () => mark(`pc.${this.connectionState}`));
      this.addEventListener("track", (event) => mark(`track.${event.track.kind}`));
      this.addEventListener("icecandidate", (event) => {
        if (event.candidate) mark("candidate.local");
      });
      this.addEventListener("negotiationneeded", () => mark("negotiationneeded"));
    }
    addTrack(...args) {
      mark("addtrack");
      return super.addTrack(...args);
    }
    async setLocalDescription(...args) {
      mark("sld.start");
      const result = await super.setLocalDescription(...args);
      mark(`sld.done.${this.localDescription?.type}`);
      return result;
    }
    async setRemoteDescription(...args) {
      mark("srd.start");
      const result = await super.setRemoteDescription(...args);
      mark(`srd.done.${this.remoteDescription?.type}`);
      return result;
    }
  };

  // Frames: the first one painted in the preview (camera access shows) and
  // in the remote video (the measurement's end). requestVideoFrameCallback is
  // re-armed on every new source so a pending request cannot be lost.
  const watchFrames = (id, name) => {
    const video = document.getElementById(id);
    if (!video) return;
    const arm = () => {
      if (name in bench.marks) return;
      video.requestVideoFrameCallback((now, meta) => {
        mark(name);
        if (!(`${name}.meta` in bench)) bench[`${name}.meta`] = { width: meta.width, height: meta.height };
      });
    };
    video.addEventListener("loadstart", arm);
    arm();
  };
  document.addEventListener("DOMContentLoaded", () => {
    watchFrames("preview-video", "preview.frame");
    watchFrames("remote-video", "remote.frame");
  });
})();
