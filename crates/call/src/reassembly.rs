//! H.264 over RTP → access units, in order, with a short wait for retransmissions.
//!
//! Packets can arrive late, twice, out of order (a NACK retransmission comes after its
//! successors) or never. The [`Reassembler`] holds them by extended sequence number and
//! hands out a picture only when every packet of it, from the first to the one with the
//! marker bit, is there. A hole that a retransmission has not filled after
//! [`Reassembler::GIVE_UP`] is skipped: every picture after it refers to one the decoder
//! lacks, so nothing more is handed out until a keyframe, and the caller is told to ask the
//! sender for one (PLI).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::rtp::codec::h264::H264Packet;
use rtc::rtp::packetizer::Depacketizer;

/// One RTP packet as the reassembler needs it.
#[derive(Clone, Debug)]
pub struct RtpIn {
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
    pub payload: Bytes,
}

/// A complete access unit (Annex B) and its RTP timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    pub data: Vec<u8>,
    pub timestamp: u32,
    pub keyframe: bool,
}

/// What [`Reassembler::push`] produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Pictures ready for the decoder, oldest first.
    pub units: Vec<Unit>,
    /// Whether a keyframe should be asked for now.
    pub need_keyframe: bool,
}

/// Counters for the call's connection-quality display.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    pub packets: u64,
    pub duplicates: u64,
    pub units: u64,
    /// Pictures given up on (a hole never filled) or dropped while waiting for a keyframe.
    pub skipped: u64,
    pub malformed: u64,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Reassembler {
    /// Extended sequence number → (packet, when it arrived).
    buffer: BTreeMap<u64, (RtpIn, Instant)>,
    /// The sequence number the next picture starts at, once known.
    next: Option<u64>,
    /// Highest extended sequence number seen.
    highest: Option<u64>,
    /// Whether pictures are being withheld until a keyframe.
    awaiting_keyframe: bool,
    /// Whether any picture was handed out or given up yet (before that, a packet older than
    /// the first one seen still belongs to the first picture).
    settled: bool,
    stats: ReassemblyStats,
}

/// Most packets held; past it the oldest hole is given up at once (a stalled stream can't
/// grow memory).
const CAPACITY: usize = 2048;

impl Default for Reassembler {
    fn default() -> Self {
        Self::new()
    }
}

impl Reassembler {
    /// How long a hole may wait for its retransmission.
    pub const GIVE_UP: Duration = Duration::from_millis(250);

    pub fn new() -> Reassembler {
        Reassembler {
            buffer: BTreeMap::new(),
            next: None,
            highest: None,
            // The first picture must be a keyframe: nothing before it can be decoded.
            awaiting_keyframe: true,
            settled: false,
            stats: ReassemblyStats::default(),
        }
    }

    pub fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    /// Whether pictures are withheld until a keyframe arrives.
    pub fn awaiting_keyframe(&self) -> bool {
        self.awaiting_keyframe
    }

    fn extend(&mut self, seq: u16) -> u64 {
        let Some(h) = self.highest else {
            // Start well above zero so that packets a little older than the first still
            // have a place.
            let e = (1u64 << 32) | u64::from(seq);
            self.highest = Some(e);
            return e;
        };
        let base = h & !0xffff;
        let candidates = [base.wrapping_sub(1 << 16), base, base + (1 << 16)];
        let e = candidates
            .into_iter()
            .map(|c| c | u64::from(seq))
            .min_by_key(|c| c.abs_diff(h))
            .unwrap_or(base | u64::from(seq));
        if e > h {
            self.highest = Some(e);
        }
        e
    }

    /// Takes one packet; returns whatever became ready.
    pub fn push(&mut self, packet: RtpIn, now: Instant) -> Output {
        self.stats.packets += 1;
        let e = self.extend(packet.seq);
        if !self.settled && self.next.is_some_and(|n| e < n && n - e < 64) {
            self.next = Some(e);
        }
        if self.next.is_some_and(|n| e < n) || self.buffer.contains_key(&e) {
            self.stats.duplicates += 1;
            return self.drain(now);
        }
        if self.next.is_none() {
            self.next = Some(e);
        }
        if self.next.is_some_and(|n| e < n + (1 << 15)) {
            self.buffer.insert(e, (packet, now));
        }
        self.drain(now)
    }

    /// Gives up holes that waited too long; call now and then even with no packets.
    pub fn poll(&mut self, now: Instant) -> Output {
        self.drain(now)
    }

    fn drain(&mut self, now: Instant) -> Output {
        let mut out = Output::default();
        while let Some(next) = self.next {
            // Earliest-started picture: everything buffered from `next`.
            match self.complete_from(next) {
                Some(end) => {
                    let packets: Vec<RtpIn> = (next..=end)
                        .filter_map(|s| self.buffer.remove(&s).map(|(p, _)| p))
                        .collect();
                    self.next = Some(end + 1);
                    self.settled = true;
                    self.emit(packets, &mut out);
                }
                None => {
                    let (Some((&first, (_, at))), Some(&last)) =
                        (self.buffer.iter().next(), self.buffer.keys().next_back())
                    else {
                        break;
                    };
                    // A hole: a packet missing before something that did arrive.
                    let mut run_end = next;
                    while self.buffer.contains_key(&run_end) {
                        run_end += 1;
                    }
                    let hole = first > next || last >= run_end;
                    let waited = now.saturating_duration_since(*at) >= Self::GIVE_UP;
                    if !(hole && waited) && self.buffer.len() <= CAPACITY {
                        break;
                    }
                    // Give up the picture with the hole: skip to the first packet that
                    // starts a later picture.
                    self.stats.skipped += 1;
                    self.settled = true;
                    let restart = self.next_picture_start(next);
                    match restart {
                        Some(s) => {
                            self.buffer.retain(|&k, _| k >= s);
                            self.next = Some(s);
                        }
                        None => {
                            // Nothing usable yet: drop what is held and wait for more.
                            if let Some((&last, _)) = self.buffer.iter().next_back() {
                                self.next = Some(last + 1);
                            }
                            self.buffer.clear();
                        }
                    }
                    self.awaiting_keyframe = true;
                    out.need_keyframe = true;
                }
            }
        }
        out
    }

    /// If the packets from `start` form one whole picture, the sequence number of its last.
    fn complete_from(&self, start: u64) -> Option<u64> {
        let (first, _) = self.buffer.get(&start)?;
        let ts = first.timestamp;
        let mut s = start;
        loop {
            let (p, _) = self.buffer.get(&s)?;
            if p.timestamp != ts {
                // A new picture began before this one's marker: the marker packet was lost
                // and the picture ended at s-1. Treat s-1 as the end.
                return (s > start).then(|| s - 1);
            }
            if p.marker {
                return Some(s);
            }
            s += 1;
        }
    }

    /// The first buffered packet after `after` that starts a picture (its predecessor
    /// carried a marker, or it carries a new timestamp after one we hold).
    fn next_picture_start(&self, after: u64) -> Option<u64> {
        let mut prev: Option<(u64, &RtpIn)> = None;
        for (&s, (p, _)) in self.buffer.range(after + 1..) {
            if let Some((ps, pp)) = prev
                && ps + 1 == s
                && (pp.marker || pp.timestamp != p.timestamp)
            {
                return Some(s);
            }
            prev = Some((s, p));
        }
        None
    }

    fn emit(&mut self, packets: Vec<RtpIn>, out: &mut Output) {
        let Some(ts) = packets.first().map(|p| p.timestamp) else {
            return;
        };
        let mut depacketizer = H264Packet::default();
        let mut data = Vec::new();
        for p in &packets {
            match depacketizer.depacketize(&p.payload) {
                Ok(b) => data.extend_from_slice(&b),
                Err(_) => {
                    self.stats.malformed += 1;
                    self.stats.skipped += 1;
                    self.awaiting_keyframe = true;
                    out.need_keyframe = true;
                    return;
                }
            }
        }
        let keyframe = weft_media::video::h264::nal_types(&data).contains(&5);
        if self.awaiting_keyframe && !keyframe {
            self.stats.skipped += 1;
            out.need_keyframe = true;
            return;
        }
        self.awaiting_keyframe = false;
        self.stats.units += 1;
        out.units.push(Unit {
            data,
            timestamp: ts,
            keyframe,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // NAL headers: 0x65 IDR slice, 0x41 non-IDR slice, 0x67 SPS, 0x68 PPS.
    fn single(seq: u16, ts: u32, marker: bool, nal: u8) -> RtpIn {
        RtpIn {
            seq,
            timestamp: ts,
            marker,
            payload: Bytes::from(vec![nal, 0xaa, 0xbb, seq as u8]),
        }
    }

    /// A picture of `n` FU-A fragments of one NAL unit.
    fn fragmented(seq: u16, ts: u32, n: u16, nal: u8) -> Vec<RtpIn> {
        (0..n)
            .map(|i| {
                let mut fu_header = nal & 0x1f;
                if i == 0 {
                    fu_header |= 0x80;
                }
                if i == n - 1 {
                    fu_header |= 0x40;
                }
                RtpIn {
                    seq: seq.wrapping_add(i),
                    timestamp: ts,
                    marker: i == n - 1,
                    payload: Bytes::from(vec![(nal & 0xe0) | 28, fu_header, i as u8, 7]),
                }
            })
            .collect()
    }

    fn run(r: &mut Reassembler, packets: Vec<RtpIn>, now: Instant) -> Output {
        let mut all = Output::default();
        for p in packets {
            let o = r.push(p, now);
            all.units.extend(o.units);
            all.need_keyframe |= o.need_keyframe;
        }
        all
    }

    #[test]
    fn pictures_come_out_whole_and_in_order_whatever_order_packets_arrive_in() {
        let now = Instant::now();
        let mut r = Reassembler::new();
        let mut packets = fragmented(65530, 1000, 4, 0x65); // keyframe across the wrap
        packets.extend(fragmented(65534, 4000, 3, 0x41));
        packets.push(single(1, 7000, true, 0x41));
        // Shuffle deterministically: reverse pairs.
        packets.swap(0, 1);
        packets.swap(4, 6);
        packets.swap(2, 7);
        let out = run(&mut r, packets, now);
        let ts: Vec<u32> = out.units.iter().map(|u| u.timestamp).collect();
        assert_eq!(ts, vec![1000, 4000, 7000]);
        assert!(out.units[0].keyframe && !out.units[1].keyframe);
        // The FU-A fragments were joined into one NAL unit with one start code.
        assert_eq!(&out.units[0].data[..5], &[0, 0, 0, 1, 0x65]);
        assert_eq!(out.units[0].data.len(), 4 + 1 + 4 * 2);
        assert!(!out.need_keyframe);
    }

    #[test]
    fn a_hole_waits_for_its_retransmission_then_is_skipped_until_a_keyframe() {
        let t0 = Instant::now();
        let mut r = Reassembler::new();
        let mut first = fragmented(10, 0, 2, 0x65);
        first.extend(fragmented(12, 3000, 3, 0x41));
        first.remove(3); // seq 13 lost
        first.extend(fragmented(15, 6000, 2, 0x41));
        let out = run(&mut r, first, t0);
        assert_eq!(out.units.len(), 1, "only the keyframe before the hole");
        // The retransmission arrives in time: both later pictures come out.
        let late = fragmented(12, 3000, 3, 0x41).remove(1);
        let out = r.push(late, t0 + Duration::from_millis(40));
        assert_eq!(out.units.len(), 2);
        assert!(!out.need_keyframe);

        // A second hole that is never filled.
        let mut more = fragmented(17, 9000, 3, 0x41);
        more.remove(1);
        more.extend(fragmented(20, 12000, 2, 0x41));
        let out = run(&mut r, more, t0 + Duration::from_millis(50));
        assert!(out.units.is_empty());
        let out = r.poll(t0 + Duration::from_millis(50) + Reassembler::GIVE_UP);
        assert!(out.need_keyframe, "a keyframe is asked for");
        assert!(
            out.units.is_empty(),
            "the P-picture after the hole is withheld"
        );
        let out = run(
            &mut r,
            fragmented(22, 15000, 2, 0x65),
            t0 + Duration::from_millis(400),
        );
        assert_eq!(out.units.len(), 1);
        assert!(out.units[0].keyframe);
        assert_eq!(r.stats().skipped, 2);
    }

    #[test]
    fn duplicates_and_stale_packets_are_ignored_and_garbage_costs_one_picture() {
        let now = Instant::now();
        let mut r = Reassembler::new();
        let kf = fragmented(100, 0, 2, 0x65);
        let out = run(&mut r, [kf.clone(), kf].concat(), now);
        assert_eq!(out.units.len(), 1);
        assert_eq!(r.stats().duplicates, 2);
        // A payload of an unknown packetisation (FU-B) is refused, not decoded.
        let bad = RtpIn {
            seq: 102,
            timestamp: 3000,
            marker: true,
            payload: Bytes::from_static(&[29, 0, 0]),
        };
        let out = r.push(bad, now);
        assert!(out.units.is_empty() && out.need_keyframe);
        assert_eq!(r.stats().malformed, 1);
        // Ignored until a keyframe, then fine again.
        assert!(r.push(single(103, 6000, true, 0x41), now).units.is_empty());
        assert_eq!(r.push(single(104, 9000, true, 0x65), now).units.len(), 1);
    }

    #[test]
    fn a_stream_that_never_fills_its_hole_does_not_grow_without_bound() {
        let t0 = Instant::now();
        let mut r = Reassembler::new();
        r.push(single(0, 0, true, 0x65), t0);
        for i in 2..6000u32 {
            r.push(single(i as u16, i * 3000, true, 0x41), t0);
        }
        assert!(r.buffer.len() <= CAPACITY + 1);
    }
}
