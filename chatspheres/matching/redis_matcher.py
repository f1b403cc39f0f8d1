"""A ``Matcher`` in Redis, shared by every server process: the engine's rules in Lua scripts.

The rules are those of ``chatspheres.matching.engine`` (read its docstring):
same pool, never oneself, exclusions both ways, no recent partner within
``recent_partner_window`` seconds, the familiar-faces rule (a candidate
among the arrival's familiar faces only when both sides allow a familiar
pairing), most shared interests first and the
longest-waiting among equals, the bounded scan (``scan_limit`` eligible people
compared, ``4 * scan_limit`` ineligible ones skipped, the arrival's interest
buckets read side by side, oldest first, then the oldest eligible among the
first ``4 * scan_limit`` of the pool), one wait per person, ``leave`` with a
tab, and ``restore``.  Each operation is one Lua script run with EVALSHA,
so it is atomic with respect to every other operation from any process: two
arrivals can never both take the same waiting person.

Key layout, every key under ``key_prefix`` (``P``):

* ``P seq``: the counter that numbers each wait (join order; it is never reset,
  so a restored partner's old number still puts them back at their place);
* ``P q:<pool>``: the pool's queue, a sorted set scored by that number, and
  ``P b:<pool>:<interest>`` the same for each interest of the pool.  Their
  members are *entries* that carry what judging a candidate needs, so that
  the scan reads no other key for most candidates:
  ``"<seq> <person> <flags> <profile>"``, where flags is one digit, the sum
  of 1 if they exclude anyone and 2 if a familiar pairing is not allowed for
  them now, and the profile is the tab
  followed by each interest, each after a tab, with ``%`` and tab escaped as
  ``%25`` and ``%09`` (interests appear escaped so in bucket names too);
* ``P w:<person>``: the person's one wait, ``"<pool> <entry>"`` (a string);
* ``P x:<person>``: the set of people a waiting person excluded, only when
  there are any (flag 1), so that "does this candidate exclude me" is one
  SISMEMBER, and only for those who exclude someone;
* ``P r:<person>``: the person's recent partners, a sorted set scored by the
  time they were last together.

Deciding an arrival reads a bounded number of entries from the arrival's
buckets (by rank, O(log N) each), so its cost does not grow with the queue.
Nothing is left behind: Redis deletes a sorted set when its last member goes;
a wait's string and exclusion set are deleted when the wait ends; expired
recent partners are removed from a person's set when that person next joins,
and each such set expires ``recent_partner_window`` seconds after the last
pairing or parting it records.  Only ``P seq`` stays.

A waiting person's familiar faces are not kept: only an arrival's decide
(see the engine), so the waiting seekers this matcher hands back have none.

Time is the server's ``TIME``, read inside the scripts, so that every process
shares one clock; a ``clock`` may be given instead (tests).  Expiry of the
recent-partner sets always counts real seconds on the server, so a given
clock must not run slower than real time, or a pair could be forgotten early.

Redis Cluster: the scripts compute the names of the keys they touch, which a
cluster accepts only when all of them hash to one slot.  Give a prefix with a
hash tag (``"{chatspheres-matching}:"``) to put every key in one slot, on one
shard; the queue is then not spread over shards.

The scripts run through the lean wire (``chatspheres.realtime.redis_wire``):
the runtime hands over its connection; given a redis-py client instead, the
matcher uses one lean connection to where that client connects (shared by
every matcher made from the client).  Errors from Redis (server down,
timeouts) propagate as redis-py exceptions; the caller reports the queue as
unavailable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis

from chatspheres.matching.engine import Pairing, Seeker
from chatspheres.realtime.redis_wire import RedisConnection

__all__ = ["RedisMatcher"]

# Helpers shared by every script, prepended to each one.  ARGV[1] is always the
# key prefix; KEYS[1] is the sequence counter, declared so that a cluster
# routes the script to the slot of the (hash-tagged) prefix.
_LIBRARY = r"""
local prefix = ARGV[1]

local function wait_key(person) return prefix .. 'w:' .. person end
local function exclusion_key(person) return prefix .. 'x:' .. person end
local function pool_key(pool) return prefix .. 'q:' .. pool end
local function bucket_key(pool, interest) return prefix .. 'b:' .. pool .. ':' .. interest end
local function partners_key(person) return prefix .. 'r:' .. person end

-- Numbers go to Redis as text: Lua's own conversion keeps 14 digits only.
local function as_text(number) return string.format('%.17g', number) end

local function clock(given)
  if given ~= '' then return tonumber(given) end
  local time = redis.call('TIME')
  return tonumber(time[1]) + tonumber(time[2]) / 1000000
end

-- A queue entry: "<seq> <person> <flags> <profile>"; flags is one digit: 1
-- excludes anyone, + 2 no familiar pairing allowed now.  The profile is
-- "<tab>\t<interest>\t<interest>..." (escaped, see the module).
local function parse(entry)
  return string.match(entry, '^(%S+) (%S+) (%d) (.*)$')
end

local function interests_of(profile)
  return string.gmatch(profile, '\t([^\t]*)')
end

-- End a wait, given its entry; returns the reply that describes it.
local function remove_entry(person, pool, entry, flags, profile)
  redis.call('ZREM', pool_key(pool), entry)
  for interest in interests_of(profile) do
    redis.call('ZREM', bucket_key(pool, interest), entry)
  end
  local excluded = {}
  if tonumber(flags) % 2 == 1 then
    excluded = redis.call('SMEMBERS', exclusion_key(person))
    redis.call('DEL', wait_key(person), exclusion_key(person))
  else
    redis.call('DEL', wait_key(person))
  end
  return {pool, entry, excluded}
end

-- Stop a person waiting (only if the wait is from `tab`, when given).
local function remove_wait(person, tab)
  local wait = redis.call('GET', wait_key(person))
  if not wait then return nil end
  local pool, entry = string.match(wait, '^(%S+) (.*)$')
  local _, _, flags, profile = parse(entry)
  if tab and string.match(profile, '^[^\t]*') ~= tab then return nil end
  return remove_entry(person, pool, entry, flags, profile)
end

-- `familiar_allowed` is '1' or '0'.
local function enqueue(person, pool, profile, excluded, familiar_allowed, seq)
  seq = seq or as_text(redis.call('INCR', KEYS[1]))
  local flags = 0
  if #excluded > 0 then flags = flags + 1 end
  if familiar_allowed ~= '1' then flags = flags + 2 end
  local entry = seq .. ' ' .. person .. ' ' .. flags .. ' ' .. profile
  redis.call('SET', wait_key(person), pool .. ' ' .. entry)
  redis.call('ZADD', pool_key(pool), seq, entry)
  for interest in interests_of(profile) do
    redis.call('ZADD', bucket_key(pool, interest), seq, entry)
  end
  -- In slices: unpack() of a very long list would overflow Lua's C stack.
  for first = 1, #excluded, 1000 do
    redis.call('SADD', exclusion_key(person),
      unpack(excluded, first, math.min(first + 999, #excluded)))
  end
end

-- The person's recent partners as a table (partner -> true): together at
-- `at` with now - at < window, decided as the engine decides it.  Reading
-- the scores is what costs, so the set is read by score range: times clearly
-- on one side of the cutoff are told apart by Redis, and only those within a
-- hair of it (`margin`, far more than the rounding of `now - window`) are
-- read with their time and judged exactly.  Expired ones are dropped on the
-- way.
local function recent_partners(person, now, window)
  local recent = {}
  local partners = partners_key(person)
  local cutoff = now - window
  local margin = (math.abs(now) + math.abs(window)) * 1e-14
  local high, low = '(' .. as_text(cutoff + margin), '(' .. as_text(cutoff - margin)
  for _, partner in ipairs(redis.call('ZRANGE', partners, high, '+inf', 'BYSCORE')) do
    recent[partner] = true
  end
  redis.call('ZREMRANGEBYSCORE', partners, '-inf', low)
  if redis.call('ZCOUNT', partners, '-inf', high) > 0 then
    local near = redis.call('ZRANGE', partners, '-inf', high, 'BYSCORE', 'WITHSCORES')
    for i = 1, #near, 2 do
      if now - tonumber(near[i + 1]) < window then
        recent[near[i]] = true
      else
        redis.call('ZREM', partners, near[i])
      end
    end
  end
  return recent
end

local function remember_together(a, b, now, window)
  -- With no window nobody is ever a recent partner: nothing to keep.
  if a == b or window <= 0 then return end
  local ttl = math.ceil(window * 1000)
  local at = as_text(now)
  -- The newest entry lives longest, so each set may go when it expires.
  redis.call('ZADD', partners_key(a), at, b)
  redis.call('PEXPIRE', partners_key(a), ttl)
  redis.call('ZADD', partners_key(b), at, a)
  redis.call('PEXPIRE', partners_key(b), ttl)
end
"""

# ARGV: prefix, person, pool, profile, scan_limit, window, now ('' for the
# server's clock), '1'/'0' a familiar pairing allowed, the familiar faces
# ("[<id>, <id>, ...]", one argument: far cheaper for the client than one
# each), then the people the arrival excludes.  Replies nil (now waiting) or
# the partner's {pool, entry, excluded}.
_JOIN = (
    _LIBRARY
    + r"""
local me, pool, my_profile = ARGV[2], ARGV[3], ARGV[4]
local scan_limit, window = tonumber(ARGV[5]), tonumber(ARGV[6])
local skip_limit = 4 * scan_limit
local find, sub, byte = string.find, string.sub, string.byte
local familiar_allowed, my_faces = ARGV[8], ARGV[9]
local my_allowed = familiar_allowed == '1'
local has_faces = my_faces ~= ''
local excluded = {}
for i = 10, #ARGV do excluded[ARGV[i]] = true end
-- The arrival's familiar faces as ",12,-3,7,", made only if a candidate
-- needs it: then each is one plain find.
local faces = nil
local function is_my_familiar_face(candidate)
  if faces == nil then
    faces = ',' .. (string.gsub(sub(my_faces, 2, -2), ' ', '')) .. ','
  end
  return find(faces, ',' .. candidate .. ',', 1, true) ~= nil
end

-- One wait per person: a new join replaces the old one, wherever it was.
remove_wait(me, nil)
local now = clock(ARGV[7])
local recent = recent_partners(me, now, window)

-- The arrival's interests, and each as it appears in an entry ("\t" before it).
local mine = {}
local needles = {}
for interest in interests_of(my_profile) do
  mine[#mine + 1] = interest
  needles[#needles + 1] = '\t' .. interest
end
local most_possible = #mine

-- How many of the arrival's interests an entry has: a needle found where the
-- entry's interest ends with it (a tab or the end follows) is one.
local function shared_with(entry)
  local shared = 0
  for i = 1, most_possible do
    local needle = needles[i]
    local _, last = find(entry, needle, 1, true)
    while last do
      local after = byte(entry, last + 1)
      if after == nil or after == 9 then
        shared = shared + 1
        break
      end
      _, last = find(entry, needle, last + 1, true)
    end
  end
  return shared
end

-- Each person is judged once (they appear in several buckets): true when
-- they may meet the arrival.  `entry` is "<seq> <person> <flags> <profile>".
local judged = {}
local function judge(entry)
  local first = find(entry, ' ', 1, true)
  local second = find(entry, ' ', first + 1, true)
  local candidate = sub(entry, first + 1, second - 1)
  local eligible = judged[candidate]
  if eligible == nil then
    eligible = not (excluded[candidate] or recent[candidate])
    local flags = byte(entry, second + 1) - 48
    if eligible and flags % 2 == 1
      and redis.call('SISMEMBER', exclusion_key(candidate), me) == 1 then
      eligible = false
    end
    -- A familiar pairing needs both sides' allowance; the arrival's list is
    -- looked at only when one side has none left.
    if eligible and has_faces and (flags >= 2 or not my_allowed)
      and is_my_familiar_face(candidate) then
      eligible = false
    end
    judged[candidate] = eligible
    return eligible, true, first
  end
  return eligible, false, first
end

local function oldest_eligible()
  for _, entry in ipairs(redis.call('ZRANGE', pool_key(pool), 0, skip_limit - 1)) do
    if judge(entry) then return entry end
  end
  return nil
end

-- Each bucket is read in slices by rank.  The first is about the bucket's
-- share of the scan, which is all most arrivals need; later ones double.
local first_slice = math.ceil(scan_limit / math.max(1, most_possible)) + 1

local function best_partner()
  local readers = {}
  for i, interest in ipairs(mine) do
    readers[i] = {key = bucket_key(pool, interest), entries = {}, at = 1, offset = 0,
                  size = first_slice, more = true}
  end
  local reading = #readers
  local considered_left, skips_left = scan_limit, skip_limit
  local best, best_seq, best_shared = nil, nil, 0
  while reading > 0 do
    local kept = 0
    for i = 1, reading do
      local r = readers[i]
      local entry = nil
      if r.at <= #r.entries then
        entry = r.entries[r.at]
        r.at = r.at + 1
      elseif r.more then
        local size = r.size
        r.entries = redis.call('ZRANGE', r.key, r.offset, r.offset + size - 1)
        r.offset = r.offset + size
        r.size = 2 * size
        r.more = #r.entries == size
        entry = r.entries[1]
        r.at = 2
      end
      if entry then
        kept = kept + 1
        readers[kept] = r
        local eligible, new, first = judge(entry)
        if new then
          if not eligible then
            skips_left = skips_left - 1
            if skips_left == 0 then return best or oldest_eligible() end
          else
            local shared = shared_with(entry)
            if best == nil or shared >= best_shared then
              local seq = tonumber(sub(entry, 1, first - 1))
              if best == nil or shared > best_shared or seq < best_seq then
                best, best_seq, best_shared = entry, seq, shared
                -- Nobody can share more, and anyone sharing as much stands
                -- behind someone already judged in every bucket.
                if shared == most_possible then return best end
              end
            end
            considered_left = considered_left - 1
            if considered_left == 0 then return best end
          end
        end
      end
    end
    reading = kept
  end
  return best or oldest_eligible()
end

local chosen = best_partner()
if chosen == nil then
  local excluded_list = {}
  for i = 10, #ARGV do excluded_list[#excluded_list + 1] = ARGV[i] end
  enqueue(me, pool, my_profile, excluded_list, familiar_allowed, nil)
  return false
end
local _, partner, flags, profile = parse(chosen)
local reply = remove_entry(partner, pool, chosen, flags, profile)
remember_together(me, partner, now, window)
return reply
"""
)

# ARGV: prefix, person, tab (escaped), '1' when the tab must match ('0':
# any wait).  Replies nil or the wait that ended: {pool, entry, excluded}.
_LEAVE = (
    _LIBRARY
    + r"""
local tab = nil
if ARGV[4] == '1' then tab = ARGV[3] end
return remove_wait(ARGV[2], tab) or false
"""
)

# ARGV: prefix, person, pool, window, now ('' for the server's clock).
# Replies {partner, tab, partner, tab, ...}: the person's recent partners who
# wait in the pool, each with the (escaped) tab they wait from.
_RECENT_PARTNERS_WAITING = (
    _LIBRARY
    + r"""
local reply = {}
local recent = recent_partners(ARGV[2], clock(ARGV[5]), tonumber(ARGV[4]))
for partner in pairs(recent) do
  local wait = redis.call('GET', wait_key(partner))
  if wait then
    local pool, entry = string.match(wait, '^(%S+) (.*)$')
    if pool == ARGV[3] then
      local _, _, _, profile = parse(entry)
      reply[#reply + 1] = partner
      reply[#reply + 1] = string.match(profile, '^[^\t]*')
    end
  end
end
return reply
"""
)

# ARGV: prefix, a, b, window, now ('' for the server's clock).
_NOTE_PARTED = (
    _LIBRARY
    + r"""
remember_together(ARGV[2], ARGV[3], clock(ARGV[5]), tonumber(ARGV[4]))
return false
"""
)

# ARGV: prefix, '1'/'0' restore the arrival, '1'/'0' restore the partner, the
# partner's place ('' for the back), then each of arrival and partner as:
# person, pool, profile, '1'/'0' a familiar pairing allowed, how many
# excluded, the excluded.
_RESTORE = (
    _LIBRARY
    + r"""
local function seeker_at(i)
  local count = tonumber(ARGV[i + 4])
  local excluded = {}
  for j = 1, count do excluded[j] = ARGV[i + 4 + j] end
  return {person = ARGV[i], pool = ARGV[i + 1], profile = ARGV[i + 2],
          familiar_allowed = ARGV[i + 3], excluded = excluded},
    i + 5 + count
end
local arrival, after = seeker_at(5)
local partner = seeker_at(after)
-- They cannot have been recent partners before this pairing (they would not
-- have been paired), so the pairing's record is the only one to forget.
redis.call('ZREM', partners_key(arrival.person), partner.person)
redis.call('ZREM', partners_key(partner.person), arrival.person)
local place = ARGV[4]
if place == '' then place = nil end
-- The partner first: its old place is ahead of the arrival's new one anyway.
for _, each in ipairs({{partner, ARGV[3], place}, {arrival, ARGV[2], nil}}) do
  local seeker = each[1]
  if each[2] == '1' and redis.call('EXISTS', wait_key(seeker.person)) == 0 then
    enqueue(seeker.person, seeker.pool, seeker.profile, seeker.excluded,
      seeker.familiar_allowed, each[3])
  end
end
return false
"""
)

_ESCAPED = re.compile(r"%(25|09)")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _escape(text: str) -> str:
    # Tabs separate the fields of a profile; "%" escapes.
    if "%" not in text and "\t" not in text:
        return text
    return text.replace("%", "%25").replace("\t", "%09")


def _unescape(text: str) -> str:
    if "%" not in text:
        return text
    return _ESCAPED.sub(lambda found: "%" if found[1] == "25" else "\t", text)


def _profile(seeker: Seeker) -> str:
    # Interests sorted, so that every process reads the buckets in one order.
    interests = sorted(seeker.interests)
    if not interests:
        return _escape(seeker.tab)
    joined = "\t".join(interests)
    if "%" in joined or joined.count("\t") >= len(interests):  # something to escape
        joined = "\t".join(_escape(interest) for interest in interests)
    return _escape(seeker.tab) + "\t" + joined


def _people(people: frozenset[int]) -> str:
    """People as one argument, "[12, -3, 7]": the cheapest text Python makes of a set of ids."""
    return str(list(people)) if people else ""


def _seeker_args(seeker: Seeker) -> list[str]:
    excluded = [str(person) for person in seeker.excluded]
    return [
        str(seeker.person),
        str(seeker.pool),
        _profile(seeker),
        "1" if seeker.familiar_allowed else "0",
        str(len(excluded)),
        *excluded,
    ]


def _wait_from(reply: Sequence[Any]) -> tuple[Seeker, int]:
    """The seeker and their place in the queue, from a script's {pool, entry, excluded}."""
    pool, entry, excluded = reply
    place, person, flags, profile = _text(entry).split(" ", 3)
    tab, *interests = profile.split("\t")
    if "%" in profile:
        tab = _unescape(tab)
        interests = [_unescape(interest) for interest in interests]
    seeker = Seeker(
        person=int(person),
        tab=tab,
        pool=int(pool),
        interests=frozenset(interests),
        excluded=frozenset([int(each) for each in excluded]) if excluded else frozenset(),
        familiar_allowed=int(flags) < 2,
    )
    return seeker, int(place)


class RedisMatcher:
    """A ``Matcher`` whose queue lives in Redis, shared by every process that uses the prefix."""

    def __init__(
        self,
        client: RedisConnection | Redis,
        *,
        key_prefix: str = "chatspheres:matching:",
        recent_partner_window: float = 600.0,
        scan_limit: int = 10,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """Use ``client``; see the module docstring for the keys and the parameters' meaning."""
        if recent_partner_window < 0:
            raise ValueError("recent_partner_window must not be negative")
        if scan_limit < 1:
            raise ValueError("scan_limit must be at least 1")
        if not isinstance(client, RedisConnection):
            client = RedisConnection.for_client(client)
        self._wire = client
        self._prefix = key_prefix
        self._sequence_key = f"{key_prefix}seq"
        self._window = repr(float(recent_partner_window))
        self._scan_limit = str(scan_limit)
        self._clock = clock
        self._join = client.script(_JOIN)
        self._leave = client.script(_LEAVE)
        self._note_parted = client.script(_NOTE_PARTED)
        self._recent_partners_waiting = client.script(_RECENT_PARTNERS_WAITING)
        self._restore = client.script(_RESTORE)
        self._eval = client.evalsha

    @property
    def script_shas(self) -> dict[str, str]:
        """The SHA1 of each operation's script, as SLOWLOG and SCRIPT EXISTS show them."""
        scripts = {
            "join": self._join,
            "leave": self._leave,
            "note_parted": self._note_parted,
            "restore": self._restore,
            "recent_partners_waiting": self._recent_partners_waiting,
        }
        return {name: script.sha_text for name, script in scripts.items()}

    def _now(self) -> str:
        # Empty: the scripts read the server's clock, the one all processes share.
        return "" if self._clock is None else repr(float(self._clock()))

    async def join(self, seeker: Seeker) -> Pairing | None:
        """Pair the seeker with the best waiting candidate, or queue them and return None."""
        reply = await self._eval(
            self._join,
            (self._sequence_key,),
            (
                self._prefix,
                seeker.person,
                seeker.pool,
                _profile(seeker),
                self._scan_limit,
                self._window,
                self._now(),
                "1" if seeker.familiar_allowed else "0",
                _people(seeker.familiar),
                *seeker.excluded,
            ),
        )
        if reply is None:
            return None
        partner, place = _wait_from(reply)
        return Pairing(
            arrival=seeker,
            partner=partner,
            shared=seeker.interests & partner.interests,
            partner_place=place,
        )

    async def leave(self, person: int, tab: str | None = None) -> Seeker | None:
        """Stop the person waiting (only if their wait is from ``tab``); return who left."""
        reply = await self._eval(
            self._leave,
            (self._sequence_key,),
            (self._prefix, person, _escape(tab or ""), "0" if tab is None else "1"),
        )
        return None if reply is None else _wait_from(reply)[0]

    async def note_parted(self, a: int, b: int) -> None:
        """Record that two people just left each other, so they are not paired again soon."""
        await self._eval(
            self._note_parted,
            (self._sequence_key,),
            (self._prefix, a, b, self._window, self._now()),
        )

    async def restore(
        self, pairing: Pairing, *, arrival: bool = True, partner: bool = True
    ) -> None:
        """Undo a pairing whose conversation could not start: the two wait again, apart."""
        place = pairing.partner_place
        await self._eval(
            self._restore,
            (self._sequence_key,),
            (
                self._prefix,
                "1" if arrival else "0",
                "1" if partner else "0",
                "" if place is None else str(place),
                *_seeker_args(pairing.arrival),
                *_seeker_args(pairing.partner),
            ),
        )

    async def waiting_count(self, pool: int) -> int:
        """Return how many people wait in the pool (sphere)."""
        # One command is atomic by itself: no script needed.
        return int(await self._wire.call(b"ZCARD", f"{self._prefix}q:{pool}"))

    async def is_waiting(self, person: int) -> bool:
        """Return whether the person waits in any pool."""
        return bool(await self._wire.call(b"EXISTS", f"{self._prefix}w:{person}"))

    async def recent_partners_waiting(self, person: int, pool: int) -> dict[int, str]:
        """Return the person's recent partners who wait in the pool now, with the tab of each."""
        reply = await self._eval(
            self._recent_partners_waiting,
            (self._sequence_key,),
            (self._prefix, person, pool, self._window, self._now()),
        )
        found: dict[int, str] = {}
        for index in range(0, len(reply or ()), 2):
            found[int(_text(reply[index]))] = _unescape(_text(reply[index + 1]))
        return found
