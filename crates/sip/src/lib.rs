//! callweave-sip (work in progress)
