//! callweave-pcap (work in progress)
