//! Applying rewrites to a view with `Graph::apply` itself: on a scratch graph holding
//! only what the rewrites mention, so validation is exactly the system's and the cost
//! is that of the rewrites, not of the graph.

use jitos_warp::Rewrite;

use crate::{
    capture::{Capture, Changes},
    SwsError, View,
};

/// Applies `rewrites` in order to a copy of what they can see in `before`, all or
/// nothing, and returns what they changed.
///
/// The scratch graph holds every node the rewrites name (in ops or expects) and every
/// neighbour of a node they remove, whole, with their versions; every edge they name
/// or can remove that exists. That is all `Graph::apply` looks at: an op or expect
/// reads only the nodes, attributes and edges it names, and a removal the edges of its
/// node, so each rewrite succeeds or fails here exactly as on the full graph, with the
/// same error.
pub(crate) fn run(before: &dyn View, rewrites: &[Rewrite]) -> Result<Changes, SwsError> {
    // Static checks first: a rewrite over the limits is refused before any lookup.
    for rewrite in rewrites {
        rewrite.validate()?;
    }
    let capture = Capture::new(before, rewrites);
    let mut scratch = jitos_warp::Graph::from_parts(
        capture.nodes.values().flatten().cloned(),
        capture.edges.iter().cloned(),
    )
    .map_err(SwsError::Inconsistent)?;
    for rewrite in rewrites {
        scratch.apply(rewrite)?;
    }
    Ok(capture.changes(&scratch))
}
