// The floor: one bare RTCPeerConnection per page, driven by the benchmark
// through page.evaluate (bench/connect/__main__.py). The capture constraints
// are the call page's (chatspheres/static/js/call.js, constraintFor).
const preview = document.getElementById("preview-video");
const remote = document.getElementById("remote-video");

let stream = null;
let pc = null;
const candidates = [];

function gathered(peer) {
  if (peer.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    peer.addEventListener("icegatheringstatechange", () => {
      if (peer.iceGatheringState === "complete") resolve();
    });
  });
}

function makePeer(trickle) {
  pc = new RTCPeerConnection({ iceServers: [] });
  pc.addEventListener("track", ({ streams, track }) => {
    const source = streams[0] ?? new MediaStream([track]);
    if (remote.srcObject !== source) remote.srcObject = source;
    remote.play().catch(() => {});
  });
  if (trickle) {
    pc.addEventListener("icecandidate", ({ candidate }) => {
      if (candidate) window.floorCandidate(candidate.toJSON());
    });
  }
  for (const track of stream.getTracks()) pc.addTrack(track, stream);
  window.chatspheres = { pc };
  return pc;
}

window.floor = {
  // Offerer: returns the offer (with every candidate in it unless trickling).
  async offer(trickle) {
    window.__bench.mark("start");
    const peer = makePeer(trickle);
    await peer.setLocalDescription();
    if (!trickle) await gathered(peer);
    window.__bench.mark("offer.ready");
    return peer.localDescription.toJSON();
  },
  // Answerer: takes the offer, returns the answer.
  async answer(offer, trickle) {
    window.__bench.mark("offer.received");
    const peer = makePeer(trickle);
    await peer.setRemoteDescription(offer);
    await peer.setLocalDescription();
    if (!trickle) await gathered(peer);
    window.__bench.mark("answer.ready");
    return peer.localDescription.toJSON();
  },
  async accept(answer) {
    window.__bench.mark("answer.received");
    await pc.setRemoteDescription(answer);
  },
  async candidate(candidate) {
    await pc.addIceCandidate(candidate);
  },
  close() {
    if (pc) pc.close();
    pc = null;
  },
};

(async () => {
  stream = await navigator.mediaDevices.getUserMedia({
    audio: true,
    video: { width: { ideal: 1280 }, height: { ideal: 720 } },
  });
  preview.srcObject = stream;
  preview.play().catch(() => {});
})();
