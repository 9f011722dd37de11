//! A call's signals through the engine: what the call says is sealed and signed by the
//! engine and sent over the relay's ephemeral path; what the engine hears (checked: signed
//! by a device on the access list, whose person may be in the channel) is handed to the
//! call with the verified sender in place of any claim.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use weft_core::Engine;
use weft_domain::Id;

use crate::{Call, Signal, SignalMessage};

/// How often the engine is asked for new signals even with no wake-up: the engine wakes
/// one waiter per signal heard, so a second call on this device (in a test) can miss one.
const FALLBACK_POLL: Duration = Duration::from_millis(250);

/// Runs until the call ends: sends what `out` carries through `engine` and hands what the
/// engine hears for this call to it.
pub async fn run(
    engine: Arc<Mutex<Engine>>,
    call: Call,
    channel: Id,
    mut out: mpsc::UnboundedReceiver<SignalMessage>,
) {
    let heard = engine
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .call_signal_waker();
    let mut tick = tokio::time::interval(FALLBACK_POLL);
    loop {
        tokio::select! {
            m = out.recv() => {
                let Some(m) = m else { return };
                let Ok(json) = serde_json::to_string(&m.signal) else { continue };
                let sent = engine
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .send_call_signal(channel, &m.call, m.to.as_deref(), &json);
                if let Err(e) = sent {
                    tracing::warn!(call = call.id(), "signal not sent: {e}");
                }
                if matches!(m.signal, Signal::Leave) {
                    return;
                }
            }
            () = heard.notified() => hand_over(&engine, &call).await,
            _ = tick.tick() => hand_over(&engine, &call).await,
        }
    }
}

/// Hands the signals the engine heard for `call` to it, oldest first.
async fn hand_over(engine: &Arc<Mutex<Engine>>, call: &Call) {
    let heard = engine
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take_call_signals(call.id());
    for s in heard {
        let signal = match serde_json::from_str::<Signal>(&s.signal) {
            Ok(sig) => sig,
            Err(e) => {
                tracing::warn!(from = %s.from_device, "unreadable call signal: {e}");
                continue;
            }
        };
        let msg = SignalMessage {
            call: s.call,
            from: s.from_device,
            to: s.to,
            signal,
        };
        if let Err(e) = call.handle(msg).await {
            tracing::warn!(call = call.id(), "call signal refused: {e}");
        }
    }
}
