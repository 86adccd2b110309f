//! Handing an event to every session of a user, wherever the sessions are —
//! and the one place that explains why each alert reaches each session
//! exactly once.
//!
//! Producers (the `AlertWriter` for new alerts, the `DbActor` for read-state
//! changes) call `Delivery::publish`; they do not know where the user's
//! sessions are. The event goes straight to this node's `Registry`, which
//! finds the user's `AlertHub`; in multi-node mode it is also published on
//! the user's Redis channel for the other nodes. This node does not wait
//! for Redis to deliver locally, so its own sessions are served while
//! Redis is down.
//!
//! Exactly once, end to end:
//!
//! 1. **Stored once.** A trigger is idempotent by (`user_id`, `breach_id`):
//!    a repeat returns the stored alert with `created: false` and is not
//!    published again (`storage::alerts`, `actors::writer`).
//! 2. **Answered after it left.** The writer publishes every new alert of
//!    a group commit before it answers 201; an ingest entry is acknowledged
//!    only after its alert left for Redis (`redis::ingest`), and an entry
//!    taken over from a dead node is published again, because the dead
//!    node may have stored it without publishing.
//! 3. **Sent once per session.** A hub remembers the last 1,024 alert ids it
//!    fanned out and drops a repeat (a re-published ingest entry, a Redis
//!    catch-up) (`actors::hub`); a node ignores its own events coming back
//!    from Redis (`actors::redis_subscriber`).
//! 4. **Not lost during a connect.** A session is admitted to the hub
//!    before its replay is read, holds live frames while the replay is
//!    written, and drops a held alert the replay already sent
//!    (`actors::session`). In multi-node mode it is greeted (and its replay
//!    read) only once Redis confirmed that its node hears the user's
//!    channel (`actors::registry`, `messages::Listening`).
//! 5. **Recovered when lost.** A session closed for falling behind gets its
//!    alerts back with `since`; a node that lost Redis catches up from
//!    storage when it returns (`actors::hub`, `CatchUp`).

use actix::Recipient;

use crate::actors::messages::{Control, Deliver};
use crate::models::UserId;
use crate::protocol::{ControlEvent, UserEvent};
use crate::redis::publisher::Publisher;

#[derive(Clone)]
pub struct Delivery {
    local: Recipient<Deliver>,
    control: Recipient<Control>,
    remote: Option<Publisher>,
}

impl Delivery {
    /// `local` is this node's registry; `remote` the Redis publisher in
    /// multi-node mode.
    pub fn new(
        local: Recipient<Deliver>,
        control: Recipient<Control>,
        remote: Option<Publisher>,
    ) -> Self {
        Self {
            local,
            control,
            remote,
        }
    }

    /// A credential ended (contract §5): this node acts on it at once, and
    /// every other node through the control channel, which every node
    /// subscribes whatever users it holds — its authentication caches must
    /// learn of the event even with no session of that user.
    pub fn control(&self, event: ControlEvent) {
        if let Some(publisher) = &self.remote {
            publisher.publish_control(&event);
        }
        self.control.do_send(Control(event));
    }

    pub fn publish(&self, user: UserId, event: UserEvent) {
        if let Some(publisher) = &self.remote {
            publisher.publish(&user, event.clone());
        }
        self.local.do_send(Deliver { user, event });
    }
}
