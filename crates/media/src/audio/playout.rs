//! The receive side of audio: a playout buffer that reorders packets, absorbs network jitter
//! with a delay that follows the measured jitter, and says for each 20 ms tick whether to
//! play a packet, rebuild a lost one from FEC, or conceal it; and [`AudioReceiver`], which
//! runs that buffer into an Opus decoder.

use std::collections::BTreeMap;

use crate::Result;
use crate::audio::codec::OpusDecoder;
use crate::frame::{AudioFrame, EncodedAudio, FRAME_MS};

const FRAME_US: u64 = FRAME_MS as u64 * 1000;

/// Limits of the playout buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlayoutConfig {
    /// Least delay held before playing, in frames (2 = 40 ms).
    pub min_delay_frames: u32,
    /// Most delay the buffer adapts to, in frames (10 = 200 ms); beyond it old frames are
    /// dropped to catch up.
    pub max_delay_frames: u32,
    /// Most packets held at once; the oldest is dropped past it.
    pub capacity: usize,
}

impl Default for PlayoutConfig {
    fn default() -> Self {
        PlayoutConfig {
            min_delay_frames: 2,
            max_delay_frames: 10,
            capacity: 50,
        }
    }
}

/// What to play for one 20 ms tick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Playout {
    /// Still filling up (at the start, or after the stream stopped): play silence.
    Buffering,
    /// Decode this packet.
    Packet(EncodedAudio),
    /// This frame was lost, but the next packet (given) carries FEC data for it.
    Recover {
        /// The packet after the lost one.
        next: Vec<u8>,
        /// Where the lost frame belongs.
        pts_us: u64,
    },
    /// This frame was lost: conceal it.
    Conceal {
        /// Where the lost frame belongs.
        pts_us: u64,
    },
}

/// What became of a pushed packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Held for playout.
    Held,
    /// Arrived after its time had passed; dropped.
    Late,
    /// Already held or played; dropped.
    Duplicate,
    /// Further ahead of the stream than the buffer holds; dropped.
    TooFarAhead,
}

/// A sequence number this far (in frames, 20 s) from the highest seen starts a new stream.
pub const RESTART_DISTANCE: u64 = 1000;

/// Counters a call's statistics show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlayoutStats {
    /// Frames played from their own packet.
    pub played: u64,
    /// Lost frames rebuilt from the next packet's FEC.
    pub recovered: u64,
    /// Lost frames concealed.
    pub concealed: u64,
    /// Packets that came too late.
    pub late: u64,
    /// Packets received twice.
    pub duplicates: u64,
    /// Packets dropped to keep the delay or the buffer within its limits.
    pub dropped: u64,
    /// Times the sender's sequence numbers jumped and the stream was started over.
    pub restarts: u64,
    /// Jitter estimate in microseconds (RFC 3550's interarrival jitter).
    pub jitter_us: u64,
    /// Delay the buffer currently aims for, in frames.
    pub target_frames: u32,
}

/// Reorders and times audio packets for playout.
#[derive(Debug)]
pub struct PlayoutBuffer {
    config: PlayoutConfig,
    packets: BTreeMap<u64, EncodedAudio>,
    /// The extended sequence number to play next, once playing.
    next: Option<u64>,
    /// The highest extended sequence number seen.
    highest: Option<u64>,
    last_pts: u64,
    last_arrival: Option<(u64, u64)>,
    jitter_us: f64,
    misses: u32,
    stats: PlayoutStats,
}

impl PlayoutBuffer {
    /// An empty buffer.
    pub fn new(config: PlayoutConfig) -> PlayoutBuffer {
        let config = PlayoutConfig {
            min_delay_frames: config.min_delay_frames.max(1),
            max_delay_frames: config.max_delay_frames.max(config.min_delay_frames.max(1)),
            capacity: config.capacity.max(config.max_delay_frames as usize + 2),
        };
        PlayoutBuffer {
            config,
            packets: BTreeMap::new(),
            next: None,
            highest: None,
            last_pts: 0,
            last_arrival: None,
            jitter_us: 0.0,
            misses: 0,
            stats: PlayoutStats {
                target_frames: config.min_delay_frames,
                ..PlayoutStats::default()
            },
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> PlayoutStats {
        PlayoutStats {
            jitter_us: self.jitter_us as u64,
            target_frames: self.target(),
            ..self.stats
        }
    }

    /// Packets held.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    fn target(&self) -> u32 {
        let frames = (FRAME_US as f64 + 3.0 * self.jitter_us) / FRAME_US as f64;
        (frames.ceil() as u32).clamp(self.config.min_delay_frames, self.config.max_delay_frames)
    }

    /// The 32-bit sequence number extended to 64 bits around the highest one seen.
    fn extend(&self, seq: u32) -> u64 {
        match self.highest {
            None => u64::from(seq) + (1 << 32),
            Some(h) => {
                let delta = seq.wrapping_sub(h as u32) as i32;
                (h as i64 + i64::from(delta)).max(0) as u64
            }
        }
    }

    /// Forgets the stream: the next packet starts a new one.
    fn restart(&mut self) {
        self.packets.clear();
        self.next = None;
        self.highest = None;
        self.last_arrival = None;
        self.misses = 0;
    }

    /// Takes a packet that arrived at `arrival_us` (the receiver's clock).
    pub fn push(&mut self, packet: EncodedAudio, arrival_us: u64) -> Pushed {
        let mut ext = self.extend(packet.seq);
        if let Some(h) = self.highest {
            let distance = ext.abs_diff(h);
            if distance > RESTART_DISTANCE {
                // Far from everything seen (a sender that restarted its count): a new stream.
                self.stats.restarts += 1;
                self.restart();
                ext = self.extend(packet.seq);
            } else if ext > h && ext - h > self.config.capacity as u64 {
                // Further ahead than the buffer holds: it would push out everything real.
                self.stats.dropped += 1;
                return Pushed::TooFarAhead;
            }
        }
        if self.next.is_some_and(|n| ext < n) {
            self.stats.late += 1;
            return Pushed::Late;
        }
        if self.packets.contains_key(&ext) {
            self.stats.duplicates += 1;
            return Pushed::Duplicate;
        }
        if let Some((a0, p0)) = self.last_arrival {
            // Timestamps come from the peer: no arithmetic on them may overflow.
            let d = (i128::from(arrival_us) - i128::from(a0))
                - (i128::from(packet.pts_us) - i128::from(p0));
            let d = i64::try_from(d).unwrap_or(i64::MAX);
            self.jitter_us += (d.unsigned_abs() as f64 - self.jitter_us) / 16.0;
        }
        self.last_arrival = Some((arrival_us, packet.pts_us));
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        self.packets.insert(ext, packet);
        while self.packets.len() > self.config.capacity {
            self.packets.pop_first();
            self.stats.dropped += 1;
        }
        Pushed::Held
    }

    /// What to play for the next 20 ms.
    pub fn pop(&mut self) -> Playout {
        let target = self.target();
        let Some(mut next) = self.next else {
            // Prebuffer until the target delay is held.
            let Some((&first, _)) = self.packets.first_key_value() else {
                return Playout::Buffering;
            };
            let span = self.highest.unwrap_or(first) - first + 1;
            if span < u64::from(target) {
                return Playout::Buffering;
            }
            self.next = Some(first);
            return self.pop();
        };
        // Too far behind (after a burst, or the clock drifted): drop to the target delay.
        if let Some(h) = self.highest {
            let depth = h.saturating_sub(next) + 1;
            let limit = u64::from(self.config.max_delay_frames + target);
            if depth > limit {
                let skip_to = h + 1 - u64::from(target);
                while let Some((&k, _)) = self.packets.first_key_value() {
                    if k >= skip_to {
                        break;
                    }
                    self.packets.pop_first();
                    self.stats.dropped += 1;
                }
                next = skip_to;
            }
        }
        self.next = Some(next + 1);
        if let Some(p) = self.packets.remove(&next) {
            self.misses = 0;
            self.last_pts = p.pts_us;
            self.stats.played += 1;
            return Playout::Packet(p);
        }
        let pts_us = self.last_pts.saturating_add(FRAME_US);
        self.last_pts = pts_us;
        if self.packets.is_empty() {
            self.misses += 1;
            if self.misses > self.config.max_delay_frames {
                // The stream stopped (or DTX went quiet): start over when it comes back.
                self.restart();
                return Playout::Buffering;
            }
        }
        if let Some(after) = self.packets.get(&(next + 1)).filter(|p| !p.data.is_empty()) {
            self.stats.recovered += 1;
            return Playout::Recover {
                next: after.data.clone(),
                pts_us,
            };
        }
        self.stats.concealed += 1;
        Playout::Conceal { pts_us }
    }
}

/// A playout buffer feeding an Opus decoder: push packets as they come, pull a frame every
/// 20 ms.
#[derive(Debug)]
pub struct AudioReceiver {
    buffer: PlayoutBuffer,
    decoder: OpusDecoder,
    channels: u16,
    /// Frames whose packet failed to decode (counted, concealed).
    pub decode_errors: u64,
}

impl AudioReceiver {
    /// A receiver decoding to `channels` channels.
    pub fn new(channels: u16, config: PlayoutConfig) -> Result<AudioReceiver> {
        Ok(AudioReceiver {
            buffer: PlayoutBuffer::new(config),
            decoder: OpusDecoder::new(channels)?,
            channels,
            decode_errors: 0,
        })
    }

    /// Takes a packet.
    pub fn push(&mut self, packet: EncodedAudio, arrival_us: u64) -> Pushed {
        self.buffer.push(packet, arrival_us)
    }

    /// The buffer's counters.
    pub fn stats(&self) -> PlayoutStats {
        self.buffer.stats()
    }

    /// The next 20 ms to play: decoded, recovered, concealed, or silence while buffering.
    pub fn pull(&mut self) -> AudioFrame {
        let result = match self.buffer.pop() {
            Playout::Buffering => return AudioFrame::silence(self.channels, 0),
            Playout::Packet(p) => self.decoder.decode(&p.data, p.pts_us),
            Playout::Recover { next, pts_us } => self.decoder.recover(&next, pts_us),
            Playout::Conceal { pts_us } => self.decoder.conceal(pts_us),
        };
        result.unwrap_or_else(|e| {
            self.decode_errors += 1;
            tracing::debug!("audio packet undecodable, concealed: {e}");
            self.decoder
                .conceal(0)
                .unwrap_or_else(|_| AudioFrame::silence(self.channels, 0))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(seq: u32) -> EncodedAudio {
        EncodedAudio {
            data: vec![seq as u8; 10],
            seq,
            pts_us: u64::from(seq) * FRAME_US,
        }
    }

    fn kind(p: &Playout) -> String {
        match p {
            Playout::Buffering => "B".into(),
            Playout::Packet(p) => p.seq.to_string(),
            Playout::Recover { .. } => "R".into(),
            Playout::Conceal { .. } => "C".into(),
        }
    }

    #[test]
    fn reordered_packets_play_in_order_and_a_gap_is_recovered_or_concealed() {
        let mut b = PlayoutBuffer::new(PlayoutConfig::default());
        let mut out = Vec::new();
        for (i, seq) in [1u32, 0, 3, 2, 5, 7, 8, 9, 10].into_iter().enumerate() {
            assert_eq!(b.push(packet(seq), i as u64 * FRAME_US), Pushed::Held);
            out.push(kind(&b.pop()));
        }
        // Prebuffers two frames, then plays 0..3 in order; 4 is recovered from 5's FEC,
        // 6 is recovered from 7's.
        assert_eq!(out.join(" "), "B 0 1 2 3 R 5 R 7");
        assert_eq!(b.push(packet(4), 10 * FRAME_US), Pushed::Late);
        assert_eq!(b.push(packet(9), 10 * FRAME_US), Pushed::Duplicate);
        let s = b.stats();
        assert_eq!((s.played, s.recovered, s.late, s.duplicates), (6, 2, 1, 1));
    }

    #[test]
    fn a_lost_packet_with_no_successor_yet_is_concealed() {
        let mut b = PlayoutBuffer::new(PlayoutConfig::default());
        for seq in [0, 1, 2, 4] {
            b.push(packet(seq), u64::from(seq) * FRAME_US);
        }
        let seq: Vec<_> = (0..4).map(|_| kind(&b.pop())).collect();
        assert_eq!(seq.join(" "), "0 1 2 R");
        b.packets.clear();
        assert_eq!(kind(&b.pop()), "C");
    }

    #[test]
    fn jitter_raises_the_delay_within_its_limit_and_a_burst_is_cut_back() {
        let mut b = PlayoutBuffer::new(PlayoutConfig::default());
        // Packets arriving with up to 60 ms of jitter.
        for seq in 0..200u32 {
            let wobble = [0, 60_000, 10_000, 45_000][seq as usize % 4];
            b.push(packet(seq), u64::from(seq) * FRAME_US + wobble);
            b.pop();
        }
        let s = b.stats();
        assert!(s.target_frames > 2 && s.target_frames <= 10, "{s:?}");
        // A burst of a second's worth after a stall: the delay is cut back to the target.
        for seq in 200..250u32 {
            b.push(packet(seq), 5_000_000);
        }
        b.pop();
        assert!(
            b.len() <= b.stats().target_frames as usize,
            "{} held",
            b.len()
        );
        assert!(b.stats().dropped > 0);
    }

    #[test]
    fn the_buffer_never_holds_more_than_its_capacity_and_sequence_numbers_wrap() {
        let mut b = PlayoutBuffer::new(PlayoutConfig {
            capacity: 20,
            ..PlayoutConfig::default()
        });
        for seq in 0..1000u32 {
            let mut p = packet(seq.wrapping_sub(500));
            p.pts_us = u64::from(seq) * FRAME_US;
            b.push(p, u64::from(seq) * FRAME_US);
            assert!(b.len() <= 20);
        }
        // Across the wrap, order holds; and with 20 frames held where the target is 2, the
        // buffer cuts back to the newest two rather than play 400 ms late.
        let first = (0..3).map(|_| b.pop()).find_map(|p| match p {
            Playout::Packet(p) => Some(p.seq),
            _ => None,
        });
        assert_eq!(first, Some(1000u32.wrapping_sub(500).wrapping_sub(2)));
        assert_eq!(b.stats().dropped, 1000 - 2);
    }

    #[test]
    fn a_packet_far_ahead_is_refused_and_a_restarted_sender_is_followed() {
        let mut b = PlayoutBuffer::new(PlayoutConfig::default());
        for seq in 0..10 {
            b.push(packet(seq), u64::from(seq) * FRAME_US);
        }
        // Hostile or corrupt: 500 frames ahead. Refused; the real stream plays on.
        assert_eq!(b.push(packet(510), 0), Pushed::TooFarAhead);
        let played: Vec<_> = (0..5).map(|_| kind(&b.pop())).collect();
        assert!(
            played.iter().all(|k| k.parse::<u32>().is_ok()),
            "{played:?}"
        );
        // The sender restarted its count from 7 000 000: a new stream, which plays.
        for seq in 7_000_000..7_000_005 {
            assert_eq!(b.push(packet(seq), 0), Pushed::Held);
        }
        let next = (0..3).map(|_| b.pop()).find_map(|p| match p {
            Playout::Packet(p) => Some(p.seq),
            _ => None,
        });
        assert!(next.is_some_and(|s| s >= 7_000_000), "{next:?}");
        assert_eq!(b.stats().restarts, 1);
        // Hostile timestamps don't overflow anything.
        let mut p = packet(7_000_005);
        p.pts_us = u64::MAX;
        b.push(p, 0);
        b.pop();
        b.pop();
    }

    #[test]
    fn after_the_stream_stops_it_buffers_again() {
        let mut b = PlayoutBuffer::new(PlayoutConfig::default());
        for seq in 0..5 {
            b.push(packet(seq), 0);
        }
        let played: Vec<_> = (0..30).map(|_| kind(&b.pop())).collect();
        assert_eq!(played.last().map(String::as_str), Some("B"));
        assert!(played.iter().filter(|k| *k == "C").count() <= 10);
    }
}
