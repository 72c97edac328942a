//! Checking a rewrite's expects against the state before its first op.

use crate::{Edge, Expect, Found, Graph, NodeId, RewriteError};

impl Graph {
    /// Checks every expect in order; the first that fails is reported with what was found.
    pub(crate) fn check_preconditions(&self, expects: &[Expect]) -> Result<(), RewriteError> {
        for (index, expect) in expects.iter().enumerate() {
            if let Err(found) = self.check_expect(expect) {
                return Err(RewriteError::Precondition {
                    index,
                    expect: Box::new(expect.clone()),
                    found: Box::new(found),
                });
            }
        }
        Ok(())
    }

    fn check_expect(&self, expect: &Expect) -> Result<(), Found> {
        match expect {
            Expect::NodeExists { node } => self
                .node(node.as_str())
                .map(|_| ())
                .ok_or(Found::NodeAbsent),
            Expect::NodeAbsent { node } => {
                if self.contains_node(node.as_str()) {
                    Err(Found::NodePresent)
                } else {
                    Ok(())
                }
            }
            Expect::AttrEquals { node, key, value } => {
                let node = self.node(node.as_str()).ok_or(Found::NodeAbsent)?;
                match node.attrs.get(key) {
                    None => Err(Found::AttrAbsent),
                    Some(current) if current == value => Ok(()),
                    Some(current) => Err(Found::Value(current.clone())),
                }
            }
            Expect::AttrAbsent { node, key } => {
                let node = self.node(node.as_str()).ok_or(Found::NodeAbsent)?;
                match node.attrs.get(key) {
                    None => Ok(()),
                    Some(current) => Err(Found::Value(current.clone())),
                }
            }
            Expect::NodeVersion { node, version } => {
                let node = self.node(node.as_str()).ok_or(Found::NodeAbsent)?;
                if node.version == *version {
                    Ok(())
                } else {
                    Err(Found::Version(node.version))
                }
            }
            Expect::EdgeExists { from, to, label } => {
                if self.contains_edge(&edge(from, to, label)) {
                    Ok(())
                } else {
                    Err(Found::EdgeAbsent)
                }
            }
            Expect::EdgeAbsent { from, to, label } => {
                if self.contains_edge(&edge(from, to, label)) {
                    Err(Found::EdgePresent)
                } else {
                    Ok(())
                }
            }
        }
    }
}

fn edge(from: &NodeId, to: &NodeId, label: &str) -> Edge {
    Edge {
        from: from.clone(),
        label: label.to_owned(),
        to: to.clone(),
    }
}
