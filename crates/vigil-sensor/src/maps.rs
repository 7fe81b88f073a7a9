//! Map values as the skeleton's generated types (`crate::skel::types`, from the object's
//! BTF): the one Rust view of `struct vigil_stats` and `struct vigil_filter_cfg`.

/// The bytes of a map value. Only for the skeleton's `#[repr(C)]` value types, whose
/// fields are integers and arrays of them with no padding (the layout test checks
/// `vigil_filter_cfg` and `vigil_stats` field by field).
pub(crate) fn as_bytes<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: T is a plain #[repr(C)] struct of integers without padding (see above), so
    // every byte of it is initialized; the slice borrows v for its lifetime.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
}

/// A map value read from the kernel's bytes; the length must match exactly.
pub(crate) fn from_bytes<T: Copy + Default>(bytes: &[u8]) -> Result<T, String> {
    let size = std::mem::size_of::<T>();
    if bytes.len() != size {
        return Err(format!(
            "map value is {} bytes, {} expects {size}",
            bytes.len(),
            std::any::type_name::<T>()
        ));
    }
    // SAFETY: the length is exactly size_of::<T>() and T is plain old data (integers and
    // arrays of them: any bit pattern is valid); read_unaligned needs no alignment.
    Ok(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}
