//! A route's configuration as the runtime holds it: a position in the loaded
//! configuration, not a copy. With 10,000 routes a copy per route was a second set of
//! every host, path, URL and header string (docs/benchmarks.md, memory); the parse cache,
//! the served state and every route now share the one parsed `OutpostConfig`.

use crate::config::{OutpostConfig, RouteConfig};
use std::ops::Deref;
use std::sync::Arc;

/// Route `index` of a shared configuration; dereferences to its [`RouteConfig`], so
/// `route.config.session` reads as before.
#[derive(Clone)]
pub struct SharedRoute {
    all: Arc<OutpostConfig>,
    index: usize,
}

impl SharedRoute {
    /// Every route of `all`, in order.
    pub fn each(all: &Arc<OutpostConfig>) -> impl Iterator<Item = SharedRoute> + '_ {
        (0..all.routes.len()).map(|index| Self {
            all: all.clone(),
            index,
        })
    }
}

impl Deref for SharedRoute {
    type Target = RouteConfig;

    fn deref(&self) -> &RouteConfig {
        // `new` checked the index, and the shared configuration never changes.
        &self.all.routes[self.index]
    }
}

impl std::fmt::Debug for SharedRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.deref().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_reads_its_own_entry_of_the_one_shared_config() {
        let mut config = OutpostConfig::default();
        for id in ["a/one", "a/two"] {
            config.routes.push(RouteConfig {
                id: id.into(),
                ..RouteConfig::default()
            });
        }
        let all = Arc::new(config);
        let routes: Vec<SharedRoute> = SharedRoute::each(&all).collect();
        let ids: Vec<&str> = routes.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["a/one", "a/two"]);
        assert_eq!(Arc::strong_count(&all), 3, "shared, not copied");
        assert_eq!(format!("{:?}", routes[1]), format!("{:?}", all.routes[1]));
    }
}
