mod skel {
    include!(concat!(env!("OUT_DIR"), "/vigil.skel.rs"));
}
