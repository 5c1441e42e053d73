//! Writes that touch several keys (a session record and its indexes), sent so that a
//! Redis Cluster accepts them: one transaction per hash slot group there, one
//! transaction for everything on a single server (standalone, Sentinel).

use super::keys::slot_group;
use redis::{Cmd, Pipeline};

/// Commands to run, grouped by the slot group of the key each one writes.
#[derive(Debug, Default)]
pub struct Writes {
    /// Groups in the order their first command was added (the order they are sent in a
    /// cluster, where a failure part way leaves the earlier groups written).
    groups: Vec<(String, Vec<Cmd>)>,
}

impl Writes {
    /// No commands yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `cmd`, which touches `key` only.
    pub fn add(&mut self, key: &str, cmd: Cmd) -> &mut Self {
        let group = slot_group(key);
        match self.groups.iter_mut().find(|(g, _)| g == group) {
            Some((_, cmds)) => cmds.push(cmd),
            None => self.groups.push((group.to_string(), vec![cmd])),
        }
        self
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// One transaction per slot group, in order (for a Redis Cluster).
    pub(crate) fn per_slot(&self) -> Vec<Pipeline> {
        self.groups
            .iter()
            .map(|(_, cmds)| transaction(cmds.iter()))
            .collect()
    }

    /// Everything in one transaction (for a single server).
    pub fn together(&self) -> Pipeline {
        transaction(self.groups.iter().flat_map(|(_, cmds)| cmds))
    }
}

fn transaction<'a>(cmds: impl Iterator<Item = &'a Cmd>) -> Pipeline {
    let mut pipe = redis::pipe();
    pipe.atomic();
    for cmd in cmds {
        pipe.add_command(cmd.clone()).ignore();
    }
    pipe
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str) -> Cmd {
        let mut c = redis::cmd("SET");
        c.arg(key).arg(1);
        c
    }

    #[test]
    fn commands_group_by_hash_tag_in_first_seen_order() {
        let mut w = Writes::new();
        w.add("p:u:alice", set("p:u:alice"))
            .add("p:s:{id}", set("p:s:{id}"))
            .add("p:x:{id}", set("p:x:{id}"))
            .add("p:u:alice", set("p:u:alice"));
        let groups: Vec<(&str, usize)> = w
            .groups
            .iter()
            .map(|(g, c)| (g.as_str(), c.len()))
            .collect();
        assert_eq!(groups, [("p:u:alice", 2), ("id", 2)]);
        assert_eq!(w.per_slot().len(), 2);
        // MULTI, two commands, EXEC: each group is one transaction.
        assert_eq!(w.per_slot()[1].cmd_iter().count(), 2);
        assert!(w.per_slot()[1].is_transaction());
        let all = w.together();
        assert_eq!(all.cmd_iter().count(), 4);
        assert!(all.is_transaction());
        assert!(!w.is_empty() && Writes::new().is_empty());
    }
}
