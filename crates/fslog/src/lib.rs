//! callweave-fslog (work in progress)
