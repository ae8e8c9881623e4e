//! callweave-hep (work in progress)
