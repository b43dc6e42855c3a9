//! A socket's table of pipes, and the two routing primitives built on it:
//! load balancing (round robin over pipes with room) and fair queueing (which
//! the shared in-ring gives by arrival order).

use crate::pipe::{Payload, PipeId, PipeWriter};
use crate::ring::PushError;
use crate::zmtp::PeerInfo;

/// One peer of a socket.
pub(crate) struct PipeEntry {
    /// Where its messages go.
    pub(crate) writer: PipeWriter,
    /// What it said about itself in its handshake (None until connected).
    pub(crate) peer: Option<PeerInfo>,
    /// Whether its connection is up (a connect pipe queues while it is not).
    pub(crate) connected: bool,
    /// For a connect pipe, the endpoint it connects to.
    pub(crate) endpoint: Option<String>,
    /// Whether its connection has been up at some time.
    pub(crate) was_up: bool,
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
    pub(crate) fn send_lb(
        &mut self,
        mut payload: Payload,
        immediate: bool,
    ) -> Result<PipeId, Payload> {
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
            match entry.writer.try_write(payload) {
                Ok(()) => {
                    let id = *id;
                    self.cursor += 1;
                    return Ok(id);
                }
                Err(PushError::Full(p)) => {
                    payload = p;
                    self.cursor += 1;
                    tried += 1;
                }
                Err(PushError::Disconnected(p)) => {
                    payload = p;
                    let id = *id;
                    self.remove(id);
                }
            }
        }
        Err(payload)
    }
}
