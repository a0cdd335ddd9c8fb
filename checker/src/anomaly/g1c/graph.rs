//! The transaction dependency graph's algorithms: strongly connected components (Tarjan's,
//! iterative, so a long chain cannot overflow the stack) and one shortest cycle per
//! component. Nodes are numbered 0..n; every output is ordered by node number, so it does
//! not depend on anything but the graph.

use std::collections::VecDeque;

/// A dependency edge's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Dependency {
    /// Write-write: the target's write follows the source's in a partition's log.
    Ww,
    /// Write-read: the target polled a value the source wrote.
    Wr,
}

/// A directed graph with typed edges; each node's edges sorted by (target, kind).
#[derive(Clone, Debug, Default)]
pub(crate) struct Graph {
    edges: Vec<Vec<(usize, Dependency)>>,
}

/// A cycle found in one strongly connected component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FoundCycle {
    /// Made of write-read edges alone.
    pub write_read_only: bool,
    /// The component's nodes, ascending.
    pub component: Vec<usize>,
    /// The cycle as edges (from, to, kind), each starting where the previous ended, the last
    /// ending where the first starts.
    pub edges: Vec<(usize, usize, Dependency)>,
}

impl Graph {
    /// A graph of `nodes` nodes and the given edges (duplicates kept once).
    pub fn new(nodes: usize, edges: impl IntoIterator<Item = (usize, usize, Dependency)>) -> Self {
        let mut adjacency = vec![Vec::new(); nodes];
        for (from, to, kind) in edges {
            adjacency[from].push((to, kind));
        }
        for list in &mut adjacency {
            list.sort_unstable();
            list.dedup();
        }
        Graph { edges: adjacency }
    }

    fn successors<'g>(
        &'g self,
        node: usize,
        wanted: impl Fn(Dependency) -> bool + 'g,
    ) -> impl Iterator<Item = (usize, Dependency)> + 'g {
        self.edges[node]
            .iter()
            .copied()
            .filter(move |&(_, kind)| wanted(kind))
    }

    /// The strongly connected components of more than one node over the edges `wanted`
    /// accepts, each ascending, ordered by their smallest node (Tarjan's algorithm).
    pub fn components(&self, wanted: impl Fn(Dependency) -> bool + Copy) -> Vec<Vec<usize>> {
        let n = self.edges.len();
        const UNSEEN: usize = usize::MAX;
        let (mut index, mut low) = (vec![UNSEEN; n], vec![0; n]);
        let mut on_stack = vec![false; n];
        let (mut stack, mut found) = (Vec::new(), Vec::new());
        let mut next_index = 0;
        for root in 0..n {
            if index[root] != UNSEEN {
                continue;
            }
            // The depth-first path: (node, position of its next edge to look at).
            let mut path: Vec<(usize, usize)> = vec![(root, 0)];
            index[root] = next_index;
            low[root] = next_index;
            next_index += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some(&mut (node, ref mut position)) = path.last_mut() {
                // The next wanted edge at or after `position` of the node's edges.
                let edges = &self.edges[node];
                let skipped = edges[*position..]
                    .iter()
                    .take_while(|&&(_, kind)| !wanted(kind))
                    .count();
                let next = edges.get(*position + skipped).copied();
                *position += skipped + 1;
                match next {
                    Some((to, _)) if index[to] == UNSEEN => {
                        index[to] = next_index;
                        low[to] = next_index;
                        next_index += 1;
                        stack.push(to);
                        on_stack[to] = true;
                        path.push((to, 0));
                    }
                    Some((to, _)) => {
                        if on_stack[to] {
                            low[node] = low[node].min(index[to]);
                        }
                    }
                    None => {
                        path.pop();
                        if let Some(&(parent, _)) = path.last() {
                            low[parent] = low[parent].min(low[node]);
                        }
                        if low[node] == index[node] {
                            let mut component = Vec::new();
                            while let Some(member) = stack.pop() {
                                on_stack[member] = false;
                                component.push(member);
                                if member == node {
                                    break;
                                }
                            }
                            if component.len() > 1 {
                                component.sort_unstable();
                                found.push(component);
                            }
                        }
                    }
                }
            }
        }
        found.sort_unstable_by_key(|c| c[0]);
        found
    }

    /// A shortest path from `from` to `to` over the edges `wanted` accepts, through nodes of
    /// `within` (ascending) only, as edges; the first found in successor order.
    fn shortest_path(
        &self,
        from: usize,
        to: usize,
        within: &[usize],
        wanted: impl Fn(Dependency) -> bool + Copy,
    ) -> Option<Vec<(usize, usize, Dependency)>> {
        let inside = |node: usize| within.binary_search(&node).is_ok();
        let mut came_from: Vec<Option<(usize, Dependency)>> = vec![None; self.edges.len()];
        let mut queue = VecDeque::from([from]);
        let mut reached = vec![false; self.edges.len()];
        reached[from] = true;
        while let Some(node) = queue.pop_front() {
            if node == to {
                let mut path = Vec::new();
                let mut at = to;
                while at != from {
                    let (previous, kind) = came_from[at].expect("a reached node has a parent");
                    path.push((previous, at, kind));
                    at = previous;
                }
                path.reverse();
                return Some(path);
            }
            for (next, kind) in self.successors(node, wanted) {
                if inside(next) && !reached[next] {
                    reached[next] = true;
                    came_from[next] = Some((node, kind));
                    queue.push_back(next);
                }
            }
        }
        None
    }

    /// A shortest cycle through the edge (`from`, `to`, `kind`) inside `component`.
    fn cycle_through(
        &self,
        edge: (usize, usize, Dependency),
        component: &[usize],
        wanted: impl Fn(Dependency) -> bool + Copy,
    ) -> Vec<(usize, usize, Dependency)> {
        let back = self
            .shortest_path(edge.1, edge.0, component, wanted)
            .expect("an edge inside a strongly connected component lies on a cycle");
        std::iter::once(edge).chain(back).collect()
    }

    /// The first edge (by source, target, kind) with both ends in `component` that
    /// `wanted` accepts.
    fn first_edge_inside(
        &self,
        component: &[usize],
        wanted: impl Fn(Dependency) -> bool + Copy,
    ) -> Option<(usize, usize, Dependency)> {
        component.iter().find_map(|&from| {
            self.successors(from, wanted)
                .find(|(to, _)| component.binary_search(to).is_ok())
                .map(|(to, kind)| (from, to, kind))
        })
    }

    /// One explained cycle per component, for G1c: every component of the write-read edges
    /// alone gives a write-read cycle; every component of all edges that holds a write-read
    /// edge but no such component gives a cycle through its first write-read edge. Ordered by
    /// the component's smallest node.
    pub fn g1c_cycles(&self) -> Vec<FoundCycle> {
        let wr_only = |kind| kind == Dependency::Wr;
        let any = |_| true;
        let read_components = self.components(wr_only);
        let mut found: Vec<FoundCycle> = Vec::new();
        for component in &read_components {
            let edge = self
                .first_edge_inside(component, wr_only)
                .expect("a component has an edge inside");
            found.push(FoundCycle {
                write_read_only: true,
                edges: self.cycle_through(edge, component, wr_only),
                component: component.clone(),
            });
        }
        for component in self.components(any) {
            let holds_read_cycle = read_components
                .iter()
                .any(|c| component.binary_search(&c[0]).is_ok());
            if holds_read_cycle {
                continue;
            }
            if let Some(edge) = self.first_edge_inside(&component, wr_only) {
                found.push(FoundCycle {
                    write_read_only: false,
                    edges: self.cycle_through(edge, &component, any),
                    component,
                });
            }
        }
        found.sort_by_key(|c| c.component[0]);
        found
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::Dependency::{Wr, Ww};
    use super::*;

    #[test]
    fn components_and_cycles_of_a_small_graph() {
        // 0 →wr 1 →wr 0 (a read cycle); 2 →ww 3 →wr 2 (needs ww); 4 →ww 5 →ww 4 (G0 only).
        let edges = [
            (0, 1, Wr),
            (1, 0, Wr),
            (2, 3, Ww),
            (3, 2, Wr),
            (4, 5, Ww),
            (5, 4, Ww),
            (1, 2, Ww),
        ];
        let graph = Graph::new(6, edges);
        assert_eq!(
            graph.components(|_| true),
            [vec![0, 1], vec![2, 3], vec![4, 5]]
        );
        let cycles = graph.g1c_cycles();
        assert_eq!(cycles.len(), 2, "{cycles:?}");
        assert!(cycles[0].write_read_only);
        assert_eq!(cycles[0].edges, [(0, 1, Wr), (1, 0, Wr)]);
        assert!(!cycles[1].write_read_only);
        assert_eq!(cycles[1].edges, [(3, 2, Wr), (2, 3, Ww)]);
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let n = 200_000;
        let edges = (0..n).map(|i| (i, (i + 1) % n, Wr));
        let graph = Graph::new(n, edges);
        let cycles = graph.g1c_cycles();
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].edges.len(), n);
    }

    /// Every simple cycle, by brute force: each as its edges, starting at its smallest node.
    pub(crate) fn simple_cycles(
        n: usize,
        edges: &BTreeSet<(usize, usize, Dependency)>,
    ) -> Vec<Vec<(usize, usize, Dependency)>> {
        fn extend(
            start: usize,
            path: &mut Vec<(usize, usize, Dependency)>,
            edges: &BTreeSet<(usize, usize, Dependency)>,
            out: &mut Vec<Vec<(usize, usize, Dependency)>>,
        ) {
            let at = path.last().map_or(start, |e| e.1);
            for &(from, to, kind) in edges.iter().filter(|e| e.0 == at) {
                if to == start {
                    path.push((from, to, kind));
                    out.push(path.clone());
                    path.pop();
                } else if to > start && !path.iter().any(|e| e.1 == to) {
                    path.push((from, to, kind));
                    extend(start, path, edges, out);
                    path.pop();
                }
            }
        }
        let mut out = Vec::new();
        for start in 0..n {
            extend(start, &mut Vec::new(), edges, &mut out);
        }
        out
    }

    /// Groups of nodes joined by sharing a cycle (union-find): the non-trivial strongly
    /// connected components, restated from cycles.
    pub(crate) fn joined(
        n: usize,
        cycles: &[&Vec<(usize, usize, Dependency)>],
    ) -> BTreeSet<Vec<usize>> {
        let mut group: Vec<usize> = (0..n).collect();
        fn root(group: &mut [usize], x: usize) -> usize {
            if group[x] == x {
                x
            } else {
                let r = root(group, group[x]);
                group[x] = r;
                r
            }
        }
        let mut on_cycle = BTreeSet::new();
        for cycle in cycles {
            for e in cycle.iter() {
                on_cycle.insert(e.0);
                let (a, b) = (root(&mut group, e.0), root(&mut group, e.1));
                group[a] = b;
            }
        }
        let mut out: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
        for node in on_cycle {
            let r = root(&mut group, node);
            out.entry(r).or_default().push(node);
        }
        out.into_values().collect()
    }

    fn is_cycle(
        edges: &BTreeSet<(usize, usize, Dependency)>,
        cycle: &[(usize, usize, Dependency)],
    ) -> bool {
        let closes = cycle.first().map(|e| e.0) == cycle.last().map(|e| e.1);
        let chained = cycle.windows(2).all(|w| w[0].1 == w[1].0);
        let simple = cycle.iter().map(|e| e.0).collect::<BTreeSet<_>>().len() == cycle.len();
        closes && chained && simple && cycle.iter().all(|e| edges.contains(e))
    }

    proptest! {
        #[test]
        fn g1c_cycles_agree_with_brute_force_cycle_enumeration(
            n in 1usize..7,
            raw in proptest::collection::vec((0usize..7, 0usize..7, any::<bool>()), 0..14),
        ) {
            let edges: BTreeSet<(usize, usize, Dependency)> = raw
                .into_iter()
                .filter(|&(a, b, _)| a < n && b < n && a != b)
                .map(|(a, b, wr)| (a, b, if wr { Wr } else { Ww }))
                .collect();
            let graph = Graph::new(n, edges.iter().copied());
            let found = graph.g1c_cycles();
            let all = simple_cycles(n, &edges);
            let read_cycles: Vec<_> = all.iter().filter(|c| c.iter().all(|e| e.2 == Wr)).collect();
            let any_cycles: Vec<_> = all.iter().collect();
            let read_groups = joined(n, &read_cycles);
            // Components of all edges with a wr edge on some cycle and no wr-only cycle.
            let expected_mixed: BTreeSet<Vec<usize>> = joined(n, &any_cycles)
                .into_iter()
                .filter(|g| !read_groups.iter().any(|r| g.contains(&r[0])))
                .filter(|g| all.iter().any(|c| g.contains(&c[0].0) && c.iter().any(|e| e.2 == Wr)))
                .collect();
            let got_read: BTreeSet<Vec<usize>> =
                found.iter().filter(|c| c.write_read_only).map(|c| c.component.clone()).collect();
            let got_mixed: BTreeSet<Vec<usize>> =
                found.iter().filter(|c| !c.write_read_only).map(|c| c.component.clone()).collect();
            prop_assert_eq!(got_read, read_groups);
            prop_assert_eq!(got_mixed, expected_mixed);
            for cycle in &found {
                prop_assert!(is_cycle(&edges, &cycle.edges), "{:?}", cycle);
                prop_assert!(cycle.edges.iter().all(|e| cycle.component.contains(&e.0)));
                let reads = cycle.edges.iter().filter(|e| e.2 == Wr).count();
                prop_assert!(reads >= 1);
                prop_assert_eq!(cycle.write_read_only, reads == cycle.edges.len());
            }
            prop_assert!(found.windows(2).all(|w| w[0].component[0] < w[1].component[0]));
        }
    }
}
