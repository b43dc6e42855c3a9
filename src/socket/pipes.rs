//! A socket's table of pipes, and the two routing primitives built on it:
//! load balancing (round robin over pipes with room) and fair queueing
//! (turns among the pipes' receive rings in [`Readers`]).

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use smallvec::SmallVec;

use crate::pipe::{self, Payload, PipeId, PipeWriter};
use crate::ring::{self, Batch, Consumer, LatestReader, Notify, PopError, PushError};
use crate::zmtp::PeerInfo;

/// One peer of a socket.
pub(crate) struct PipeEntry {
    /// Where its messages go.
    pub(crate) writer: PipeWriter,
    /// What it said about itself in its handshake (None until connected).
    pub(crate) peer: Option<Arc<PeerInfo>>,
    /// Whether its connection is up (a connect pipe queues while it is not).
    pub(crate) connected: bool,
    /// For a connect pipe, the endpoint it connects to.
    pub(crate) endpoint: Option<String>,
    /// Whether its connection has been up at some time.
    pub(crate) was_up: bool,
    /// ROUTER: the routing id given to this peer by
    /// `ZMQ_CONNECT_ROUTING_ID`, in place of the one it announces.
    pub(crate) assigned_id: Option<Bytes>,
}

/// A socket's pipes, in attach order for round robin. A socket has few
/// pipes and looks them up by id only on control events, so a vector (no
/// hashing on the send path) serves best.
#[derive(Default)]
pub(crate) struct Pipes {
    entries: Vec<(PipeId, PipeEntry)>,
    cursor: usize,
}

impl Pipes {
    fn position(&self, id: PipeId) -> Option<usize> {
        self.entries.iter().position(|(p, _)| *p == id)
    }

    /// Adds a pipe (replacing one with the same id).
    pub(crate) fn insert(&mut self, id: PipeId, entry: PipeEntry) {
        match self.position(id) {
            Some(i) => self.entries[i].1 = entry,
            None => self.entries.push((id, entry)),
        }
    }

    /// Removes a pipe, returning it.
    pub(crate) fn remove(&mut self, id: PipeId) -> Option<PipeEntry> {
        let pos = self.position(id)?;
        let (_, e) = self.entries.remove(pos);
        if self.cursor > pos {
            self.cursor -= 1;
        }
        if self.cursor >= self.entries.len() {
            self.cursor = 0;
        }
        Some(e)
    }

    /// A pipe by id.
    pub(crate) fn get_mut(&mut self, id: PipeId) -> Option<&mut PipeEntry> {
        self.entries
            .iter_mut()
            .find(|(p, _)| *p == id)
            .map(|(_, e)| e)
    }

    /// The number of pipes.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All pipes.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (PipeId, &PipeEntry)> {
        self.entries.iter().map(|(id, e)| (*id, e))
    }

    /// Ids of the pipes whose endpoint is `ep`.
    pub(crate) fn ids_for_endpoint(&self, ep: &str) -> Vec<PipeId> {
        self.iter()
            .filter(|(_, e)| e.endpoint.as_deref() == Some(ep))
            .map(|(id, _)| id)
            .collect()
    }

    /// Writes to one pipe.
    pub(crate) fn write_to(
        &mut self,
        id: PipeId,
        payload: Payload,
    ) -> Result<(), PushError<Payload>> {
        match self.get_mut(id) {
            Some(e) => e.writer.try_write(payload),
            None => Err(PushError::Disconnected(payload)),
        }
    }

    /// Whether some pipe (connected ones only, with `immediate`) has room for
    /// a message now.
    pub(crate) fn any_room(&self, immediate: bool) -> bool {
        self.entries
            .iter()
            .any(|(_, e)| (!immediate || e.connected) && e.writer.has_room())
    }

    /// Asks for `n` to be notified once some pipe has room, with one barrier
    /// for all of them (a process-wide one where pipes run asymmetric
    /// wake-ups, so a writer facing many full pipes does not pay one per
    /// pipe). False when a pipe has room already (or the barrier failed):
    /// go round again instead of sleeping. With no pipe there is nothing to
    /// wait for here (a new pipe's notice wakes the socket).
    ///
    /// With `immediate`, only pipes whose connection is up count (the
    /// others take no messages, so their room is no reason to go round).
    pub(crate) fn wait_for_room(&self, n: &Arc<dyn Notify>, immediate: bool) -> bool {
        let usable = || {
            self.entries
                .iter()
                .map(|(_, e)| e)
                .filter(move |e| !immediate || e.connected)
        };
        let mut list = usable();
        let Some(first) = list.next() else {
            return true;
        };
        if list.next().is_none() {
            return first.writer.register_space_waiter(n.clone());
        }
        for (i, e) in usable().enumerate() {
            if !e.writer.announce_space_wait(n) {
                for e in usable().take(i) {
                    e.writer.cancel_space_wait(n);
                }
                return false;
            }
        }
        let ok = ring::sleep_barrier() && usable().all(|e| e.writer.confirm_space_wait(n));
        if !ok {
            for e in usable() {
                e.writer.cancel_space_wait(n);
            }
        }
        ok
    }

    /// Asks for `n` to be notified once pipe `id` has room. False when it
    /// has room already or is gone: go round again instead of sleeping.
    pub(crate) fn wait_for_room_at(&self, id: PipeId, n: &Arc<dyn Notify>) -> bool {
        match self.position(id) {
            Some(i) => self.entries[i].1.writer.register_space_waiter(n.clone()),
            None => false,
        }
    }

    /// Distribution: writes a copy of the message to every pipe `pick`
    /// accepts, dropping it for a pipe that is full (or gone). Never waits.
    pub(crate) fn send_dist(
        &mut self,
        payload: Payload,
        mut pick: impl FnMut(PipeId, &PipeEntry) -> bool,
    ) {
        let mut last: Option<usize> = None;
        for i in 0..self.entries.len() {
            let (id, e) = &self.entries[i];
            if !pick(*id, e) {
                continue;
            }
            if let Some(j) = last.replace(i) {
                let _ = self.entries[j].1.writer.try_write(payload.clone());
            }
        }
        // The last target takes the original, saving one copy.
        if let Some(j) = last {
            let _ = self.entries[j].1.writer.try_write(payload);
        }
    }

    /// Load balancing: offers the message to each usable pipe once, starting
    /// after the one used last; the first with room takes it. With
    /// `immediate`, pipes whose connection is not up are skipped. Pipes whose
    /// reader is gone are dropped on the way. On failure the message is handed
    /// back.
    ///
    /// The message becomes a [`Payload`] only once a slot is found, straight
    /// into that slot: a single frame is not first built into a payload on
    /// the stack and then copied, a copy that cost a store-forwarding stall
    /// per message.
    #[inline]
    pub(crate) fn send_lb<M: Into<Payload>>(
        &mut self,
        payload: M,
        immediate: bool,
    ) -> Result<PipeId, M> {
        let mut tried = 0;
        while tried < self.entries.len() {
            if self.cursor >= self.entries.len() {
                self.cursor = 0;
            }
            let (id, entry) = &mut self.entries[self.cursor];
            if immediate && !entry.connected {
                self.cursor += 1;
                tried += 1;
                continue;
            }
            let full = match entry.writer.vacant() {
                Ok(slot) => {
                    slot.write(payload.into());
                    let id = *id;
                    self.cursor += 1;
                    return Ok(id);
                }
                Err(PushError::Full(())) => true,
                Err(PushError::Disconnected(())) => false,
            };
            let id = *id;
            if !full {
                self.remove(id);
            } else if entry.writer.is_conflating() {
                // Never full: the message replaces the one not yet sent.
                entry.writer.write_conflated(payload.into());
                self.cursor += 1;
                return Ok(id);
            } else {
                self.cursor += 1;
                tried += 1;
            }
        }
        Err(payload)
    }
}

/// The reading end of one pipe.
struct Reader {
    pipe: PipeId,
    ring: Consumer<Payload>,
    /// A conflating pipe (`ZMQ_CONFLATE`): the newest message waits here,
    /// and the ring carries only tokens saying one was put.
    latest: Option<LatestReader<Payload>>,
    /// Whether the pipe is gone once this ring's writer is gone and the ring
    /// is drained (an inproc peer, an accepted connection). A connect pipe
    /// outlives its connections: a new connection brings a new ring.
    last: bool,
}

/// The reading ends of a socket's pipes. The socket drains them in turn,
/// after the notices in its in-ring, and announces its sleeps on each of
/// them.
pub(crate) struct Readers {
    list: Vec<Reader>,
    /// The pipe the next message is taken from first (fair queueing: one
    /// message from each pipe in turn).
    cursor: usize,
    /// Who a writer wakes when the socket sleeps (the socket's signal).
    notify: Arc<dyn Notify>,
    /// Pipes dropped because their writer is gone and their ring drained,
    /// not yet reported with [`Readers::take_gone`].
    gone: Vec<PipeId>,
    /// The pipe of the message the application received last
    /// ([`NO_PIPE`] before the first).
    last_from: PipeId,
    /// What the peer of each reader said about itself (apart from the
    /// readers, which the receive path walks), for [`Readers::peer_of`].
    peers: Vec<(PipeId, Arc<PeerInfo>)>,
    /// The peers of the readers removed last (at most [`KEEP_GONE_PEERS`]),
    /// for the messages of theirs still waiting in the inbox.
    gone_peers: VecDeque<(PipeId, Arc<PeerInfo>)>,
}

/// No pipe: [`Readers::last_from`] before the first message. Pipe ids count
/// up from 0 and never reach it.
const NO_PIPE: PipeId = PipeId::MAX;

/// How many removed readers' peers [`Readers::peer_of`] still knows.
const KEEP_GONE_PEERS: usize = 16;

impl Readers {
    /// No readers yet; `notify` is woken by writers while the socket sleeps.
    pub(crate) fn new(notify: Arc<dyn Notify>) -> Readers {
        Readers {
            list: Vec::new(),
            cursor: 0,
            notify,
            gone: Vec::new(),
            last_from: NO_PIPE,
            peers: Vec::new(),
            gone_peers: VecDeque::new(),
        }
    }

    /// Notes that the application received a message from `pipe` (one
    /// taken by [`Readers::drain`] and delivered later).
    #[inline]
    pub(crate) fn note_from(&mut self, pipe: PipeId) {
        self.last_from = pipe;
    }

    /// The pipe of the message the application received last.
    pub(crate) fn last_from(&self) -> Option<PipeId> {
        (self.last_from != NO_PIPE).then_some(self.last_from)
    }

    /// What the peer of `pipe` said about itself, while its reader is
    /// here or among the last ones removed.
    pub(crate) fn peer_of(&self, pipe: PipeId) -> Option<&PeerInfo> {
        self.peers
            .iter()
            .chain(self.gone_peers.iter().rev())
            .find(|(p, _)| *p == pipe)
            .map(|(_, peer)| &**peer)
    }

    /// Sets the peer of `pipe`'s reader (an inproc connect made before the
    /// bind learns it when the bind happens).
    pub(crate) fn set_peer(&mut self, pipe: PipeId, peer: Arc<PeerInfo>) {
        if !self.list.iter().any(|r| r.pipe == pipe) {
            // Its reader is gone already: nothing of it is left to receive.
            return;
        }
        match self.peers.iter_mut().find(|(p, _)| *p == pipe) {
            Some(entry) => entry.1 = peer,
            None => self.peers.push((pipe, peer)),
        }
    }

    /// Keeps the peer of a reader being removed, for its messages still
    /// waiting to be received.
    fn keep_peer(
        peers: &mut Vec<(PipeId, Arc<PeerInfo>)>,
        gone_peers: &mut VecDeque<(PipeId, Arc<PeerInfo>)>,
        pipe: PipeId,
    ) {
        if let Some(i) = peers.iter().position(|(p, _)| *p == pipe) {
            if gone_peers.len() == KEEP_GONE_PEERS {
                gone_peers.pop_front();
            }
            gone_peers.push_back(peers.swap_remove(i));
        }
    }

    /// Whether there are none.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Adds the reader of a pipe. With `last`, the pipe ends with this
    /// ring (see [`Readers::take_gone`]).
    pub(crate) fn add(
        &mut self,
        pipe: PipeId,
        mut ring: Consumer<Payload>,
        latest: Option<LatestReader<Payload>>,
        last: bool,
        peer: Option<Arc<PeerInfo>>,
    ) {
        ring.set_notifier(Some(self.notify.clone()));
        self.list.push(Reader {
            pipe,
            ring,
            latest,
            last,
        });
        if let Some(peer) = peer {
            self.set_peer(pipe, peer);
        }
    }

    /// Takes about `max` messages (at most `max` divided among the pipes
    /// from each) and hands them to `f` one from each pipe in turn, as
    /// libzmq's fair queueing does, starting one further than last time.
    /// A pipe whose writer is gone is dropped once it is drained. Returns
    /// how many messages were taken.
    pub(crate) fn drain(&mut self, max: usize, mut f: impl FnMut(PipeId, Payload)) -> usize {
        let n = self.list.len();
        if n == 0 {
            return 0;
        }
        let share = max.div_ceil(n).max(1);
        let start = self.cursor % n;
        self.cursor = start + 1;
        let mut taken = 0;
        let mut gone = false;
        let (before, from) = self.list.split_at_mut(start);
        let mut batches: SmallVec<[(PipeId, Batch<'_, Payload>); 8]> = SmallVec::new();
        for r in from.iter_mut().chain(before.iter_mut()) {
            if let Some(latest) = &mut r.latest {
                match pipe::pop_latest(&mut r.ring, latest) {
                    Ok(payload) => {
                        taken += 1;
                        f(r.pipe, payload);
                    }
                    Err(PopError::Empty) => {}
                    Err(PopError::Disconnected) => gone = true,
                }
                continue;
            }
            match r.ring.try_pop_batch(share) {
                Ok(batch) => batches.push((r.pipe, batch)),
                Err(PopError::Empty) => {}
                Err(PopError::Disconnected) => gone = true,
            }
        }
        while batches.len() > 1 {
            batches.retain(|(pipe, batch)| match batch.next() {
                Some(payload) => {
                    taken += 1;
                    f(*pipe, payload);
                    true
                }
                None => false,
            });
        }
        // The last pipe with messages left (often the only one) in a run.
        if let Some((pipe, batch)) = batches.pop() {
            for payload in batch {
                taken += 1;
                f(pipe, payload);
            }
        }
        drop(batches);
        if gone {
            let (dead, peers, gone_peers) = (&mut self.gone, &mut self.peers, &mut self.gone_peers);
            self.list.retain(|r| {
                let alive = !r.ring.is_disconnected()
                    || !r.ring.is_empty()
                    || r.latest.as_ref().is_some_and(|l| l.is_fresh());
                if !alive {
                    Self::keep_peer(peers, gone_peers, r.pipe);
                    if r.last {
                        dead.push(r.pipe);
                    }
                }
                alive
            });
        }
        taken
    }

    /// Takes one message straight from a pipe's ring: from the pipe after
    /// the one that gave the last message (fair queueing, as libzmq), or
    /// the next one with a message.
    #[inline(always)]
    pub(crate) fn pop_one(&mut self) -> Option<Payload> {
        let mut tries = self.list.len();
        while tries > 0 {
            if self.cursor >= self.list.len() {
                self.cursor = 0;
            }
            let r = &mut self.list[self.cursor];
            let got = match &mut r.latest {
                None => r.ring.try_pop(),
                Some(latest) => pipe::pop_latest(&mut r.ring, latest),
            };
            match got {
                Ok(p) => {
                    self.last_from = r.pipe;
                    self.cursor += 1;
                    return Some(p);
                }
                Err(PopError::Empty) => self.cursor += 1,
                Err(PopError::Disconnected) => {
                    // Drained, and its writer is gone.
                    let r = self.list.remove(self.cursor);
                    Self::keep_peer(&mut self.peers, &mut self.gone_peers, r.pipe);
                    if r.last {
                        self.gone.push(r.pipe);
                    }
                }
            }
            tries -= 1;
        }
        None
    }

    /// Whether pipes were dropped since the last [`Readers::take_gone`].
    #[inline]
    pub(crate) fn has_gone(&self) -> bool {
        !self.gone.is_empty()
    }

    /// The pipes dropped because the writer of their last ring went away
    /// (the peer socket closed, the accepted connection ended) and the ring
    /// was drained. The socket treats each as detached: the detach notice is
    /// only a hint that may have been lost to a full in-ring, while a
    /// writer-less, drained ring is final.
    pub(crate) fn take_gone(&mut self) -> Vec<PipeId> {
        std::mem::take(&mut self.gone)
    }

    /// Removes the reader of `pipe` (its writer detached or disconnected),
    /// first handing every message it still holds to `f`. The writer
    /// published those before it sent its notice, so none is left behind.
    pub(crate) fn remove(&mut self, pipe: PipeId, mut f: impl FnMut(PipeId, Payload)) {
        let Some(i) = self.list.iter().position(|r| r.pipe == pipe) else {
            return;
        };
        let r = self.list.remove(i);
        Self::keep_peer(&mut self.peers, &mut self.gone_peers, pipe);
        let Reader {
            ring: mut reader,
            latest,
            ..
        } = r;
        if let Some(mut latest) = latest {
            // The ring holds only tokens.
            while reader.try_pop().is_ok() {}
            if let Some(payload) = latest.take() {
                f(pipe, payload);
            }
            return;
        }
        while let Ok(batch) = reader.try_pop_batch(usize::MAX) {
            for payload in batch {
                f(pipe, payload);
            }
        }
    }

    /// Announces a sleep on every reader, with one barrier for all of them
    /// (a process-wide one where inproc rings run asymmetric wake-ups).
    /// Returns false, with every announcement withdrawn, if one of them
    /// holds messages (or the barrier failed).
    pub(crate) fn prepare_sleep(&mut self) -> bool {
        match self.list.as_mut_slice() {
            [] => true,
            [r] => r.ring.prepare_sleep(),
            list => {
                let mut ok = true;
                for r in list.iter_mut() {
                    ok &= r.ring.announce_sleep();
                }
                ok = ok && ring::sleep_barrier();
                for r in list.iter_mut() {
                    ok = ok && r.ring.confirm_sleep();
                }
                if !ok {
                    for r in list.iter() {
                        r.ring.cancel_sleep();
                    }
                }
                ok
            }
        }
    }

    /// Hands every slot already read back to the writers (before the socket
    /// waits for something else, so no writer waits on slots held back).
    pub(crate) fn release_all(&mut self) {
        for r in &mut self.list {
            r.ring.release_now();
        }
    }

    /// Withdraws the sleep announcements.
    pub(crate) fn cancel_sleep(&self) {
        for r in &self.list {
            r.ring.cancel_sleep();
        }
    }

    /// Drops every reader (the socket is closing).
    pub(crate) fn clear(&mut self) {
        self.list.clear();
    }
}
