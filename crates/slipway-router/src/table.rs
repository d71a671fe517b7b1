//! The route table: host → backends, swapped atomically as a whole.
//!
//! Readers (every request) load the current snapshot without locking. The writer (the agent)
//! builds a new snapshot and swaps it in. The guarantee the agent relies on when it swaps an
//! instance out and then drains it: once `replace` has returned, no request can *start* on a
//! backend the new table no longer lists, so `drain` waiting for the in-flight count to reach
//! zero really means the old instance has no more work coming.
//!
//! That takes one extra step per request: after counting itself in flight on the backend it
//! picked, a request checks that the table generation is still the one it routed with; if a
//! `replace` happened in between, it un-counts itself and routes again. Both sides use SeqCst, so
//! either the request sees the new generation or `replace`'s caller sees the request's count.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::access_log::AccessLogName;
use crate::backend::{Backend, InFlight};
use crate::headers::HostMap;

/// The routing table shared by the agent (which writes it) and the router (which reads it).
///
/// Cheap to clone: clones share one table.
#[derive(Clone, Default)]
pub struct RouteTable {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    snapshot: ArcSwap<Snapshot>,
    generation: AtomicU64,
    /// Every backend a route lists or an in-flight request still uses, so that `in_flight` and
    /// `drain` find a backend after it was taken out of the table. Also serialises writers.
    backends: Mutex<HashMap<SocketAddr, Arc<Backend>>>,
}

#[derive(Default)]
struct Snapshot {
    generation: u64,
    routes: HostMap<Arc<Route>>,
}

/// Where the agent sends one host: its instances, and the access-log file of its site.
#[derive(Debug, Clone, Default)]
pub struct RouteTarget {
    pub backends: Vec<SocketAddr>,
    /// `None`: the host's requests are logged with those no site took.
    pub access_log: Option<AccessLogName>,
}

impl From<Vec<SocketAddr>> for RouteTarget {
    fn from(backends: Vec<SocketAddr>) -> Self {
        RouteTarget { backends, access_log: None }
    }
}

/// The backends of one host, with its round-robin cursor.
pub(crate) struct Route {
    pub(crate) backends: Box<[Arc<Backend>]>,
    pub(crate) access_log: Option<AccessLogName>,
    next: AtomicUsize,
}

/// What a host resolves to.
pub(crate) enum Lookup {
    Unknown,
    Found { route: Arc<Route>, generation: u64 },
}

impl Route {
    /// Where this request starts its round-robin walk over the backends.
    pub(crate) fn start(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed)
    }
}

impl RouteTable {
    /// Replaces the whole table atomically: host (lower-case, no port) → backends (a
    /// `Vec<SocketAddr>` or a [`RouteTarget`]).
    ///
    /// Requests already in flight keep the backend they were sent to. Hosts are normalised the
    /// way requests are (lower-cased, trailing dot removed), so `Shop.Example.` also works.
    pub fn replace<T: Into<RouteTarget>>(&self, routes: HashMap<String, T>) {
        let inner = &*self.inner;
        let mut backends = inner.backends.lock().unwrap_or_else(PoisonError::into_inner);
        let generation = inner.generation.load(Ordering::SeqCst) + 1;

        let mut table = HostMap::with_capacity_and_hasher(routes.len(), Default::default());
        for (host, target) in routes {
            let RouteTarget { backends: addrs, access_log } = target.into();
            let route_backends = addrs
                .into_iter()
                .map(|addr| backends.entry(addr).or_insert_with(|| Arc::new(Backend::new(addr))).clone())
                .collect();
            let host = crate::headers::normalize_host(&host).into_owned().into_boxed_str();
            let route = Route { backends: route_backends, access_log, next: AtomicUsize::new(0) };
            table.insert(host, Arc::new(route));
        }
        let listed: HashSet<SocketAddr> =
            table.values().flat_map(|route| route.backends.iter().map(|backend| backend.addr)).collect();

        inner.snapshot.store(Arc::new(Snapshot { generation, routes: table }));
        inner.generation.store(generation, Ordering::SeqCst);

        // Forget backends nobody uses any more. A request that still holds an old snapshot and
        // counts itself on a forgotten backend after this point sees the new generation and
        // routes again, so it never runs on it.
        backends.retain(|addr, backend| listed.contains(addr) || backend.in_flight.get() > 0);
    }

    /// Requests currently in flight to `backend` (across all hosts), upgraded connections included.
    pub fn in_flight(&self, backend: SocketAddr) -> usize {
        self.backend(backend).map_or(0, |backend| backend.in_flight.get())
    }

    /// Waits until no request is in flight to `backend` or `timeout` passes; returns whether it drained.
    ///
    /// Call it after `replace` has taken the backend out of every route: only then can no new
    /// request start on it.
    pub async fn drain(&self, backend: SocketAddr, timeout: Duration) -> bool {
        match self.backend(backend) {
            Some(backend) => backend.in_flight.wait_zero(timeout).await,
            None => true,
        }
    }

    fn backend(&self, addr: SocketAddr) -> Option<Arc<Backend>> {
        let backends = self.inner.backends.lock().unwrap_or_else(PoisonError::into_inner);
        backends.get(&addr).cloned()
    }

    pub(crate) fn lookup(&self, host: &str) -> Lookup {
        let snapshot = self.inner.snapshot.load();
        match snapshot.routes.get(host) {
            Some(route) => Lookup::Found { route: route.clone(), generation: snapshot.generation },
            None => Lookup::Unknown,
        }
    }

    /// The access-log file of `host`'s site, if it has one.
    pub(crate) fn access_log(&self, host: &str) -> Option<AccessLogName> {
        self.inner.snapshot.load().routes.get(host).and_then(|route| route.access_log.clone())
    }

    /// Counts a request in flight on `backend`, or returns `None` if the table changed since
    /// `generation` was looked up (the caller must route again; see the module comment).
    pub(crate) fn enter(&self, backend: &Arc<Backend>, generation: u64) -> Option<InFlight> {
        let guard = InFlight::enter(backend);
        // `replace` stores the snapshot before the counter, so a request may briefly hold a
        // snapshot newer than the counter; that one is current too.
        if self.inner.generation.load(Ordering::SeqCst) <= generation {
            Some(guard)
        } else {
            None
        }
    }
}

impl std::fmt::Debug for RouteTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let snapshot = self.inner.snapshot.load();
        let mut map = f.debug_map();
        for (host, route) in &snapshot.routes {
            map.entry(host, &route.backends.iter().map(|backend| backend.addr).collect::<Vec<_>>());
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(host: &str, addrs: &[SocketAddr]) -> HashMap<String, Vec<SocketAddr>> {
        HashMap::from([(host.to_owned(), addrs.to_vec())])
    }

    fn found(table: &RouteTable, host: &str) -> (Arc<Route>, u64) {
        match table.lookup(host) {
            Lookup::Found { route, generation } => (route, generation),
            Lookup::Unknown => panic!("{host} is not routed"),
        }
    }

    #[test]
    fn a_request_routed_before_replace_cannot_start_on_a_removed_backend() {
        let (a, b): (SocketAddr, SocketAddr) = (([127, 0, 0, 1], 1).into(), ([127, 0, 0, 1], 2).into());
        let table = RouteTable::default();
        table.replace(routes("app", &[a]));
        // Routed with the old table, counted in flight only after the swap: it must route again.
        let (route, generation) = found(&table, "app");
        table.replace(routes("app", &[b]));
        assert!(table.enter(&route.backends[0], generation).is_none());
        assert_eq!(table.in_flight(a), 0);

        let (route, generation) = found(&table, "app");
        assert_eq!(route.backends[0].addr, b);
        let in_flight = table.enter(&route.backends[0], generation).expect("current table");
        assert_eq!(table.in_flight(b), 1);
        // Removed from the table while in flight: still counted, and found by `in_flight`.
        table.replace(routes("app", &[a]));
        assert_eq!(table.in_flight(b), 1);
        drop(in_flight);
        assert_eq!(table.in_flight(b), 0);
    }

    #[test]
    fn hosts_are_normalised_and_backends_shared_across_hosts() {
        let a: SocketAddr = ([127, 0, 0, 1], 1).into();
        let table = RouteTable::default();
        table.replace(HashMap::from([("Shop.Example.".to_owned(), vec![a]), ("www.shop.example".to_owned(), vec![a])]));
        let (shop, generation) = found(&table, "shop.example");
        let (www, _) = found(&table, "www.shop.example");
        assert!(Arc::ptr_eq(&shop.backends[0], &www.backends[0]));
        let _one = table.enter(&shop.backends[0], generation).expect("current");
        let _two = table.enter(&www.backends[0], generation).expect("current");
        assert_eq!(table.in_flight(a), 2);
        assert!(matches!(table.lookup("other.example"), Lookup::Unknown));
    }
}
