//! callweave-core (work in progress)
