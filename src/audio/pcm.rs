//! L16 payloads as samples. A payload is 16-bit samples in host byte order,
//! so turning bytes into samples (and back) is a plain copy; a loop that
//! rebuilds each sample from two bytes costs a tenth of a microsecond per
//! frame per member and does not vectorise. `bytemuck` does the
//! reinterpretation (it checks size and alignment, and `i16` has no invalid
//! bit patterns), so this stays safe code and still compiles to `memcpy`.

/// Copies `src` (native-endian 16-bit samples) into `dst`.
///
/// # Panics
/// When `src.len() != 2 * dst.len()`; callers check lengths first.
pub fn samples_from_bytes(src: &[u8], dst: &mut [i16]) {
    assert_eq!(src.len(), 2 * dst.len(), "L16 payload and buffer sizes");
    bytemuck::cast_slice_mut::<i16, u8>(dst).copy_from_slice(src);
}

/// Copies `src` into `dst` as native-endian bytes.
///
/// # Panics
/// When `dst.len() != 2 * src.len()`.
pub fn bytes_from_samples(src: &[i16], dst: &mut [u8]) {
    assert_eq!(dst.len(), 2 * src.len(), "L16 buffer and payload sizes");
    dst.copy_from_slice(bytemuck::cast_slice::<i16, u8>(src));
}

/// The samples of an L16 payload, read in place without a copy; `None` when
/// the buffer is not aligned for `i16` or has an odd length (the caller
/// then copies).
pub fn samples_of(bytes: &[u8]) -> Option<&[i16]> {
    bytemuck::try_cast_slice(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_native_order() {
        let samples = [0i16, 1, -1, 32767, -32768, 0x1234];
        let mut bytes = [0u8; 12];
        bytes_from_samples(&samples, &mut bytes);
        let expect: Vec<u8> = samples.iter().flat_map(|s| s.to_ne_bytes()).collect();
        assert_eq!(bytes.as_slice(), expect.as_slice());
        let mut back = [0i16; 6];
        samples_from_bytes(&bytes, &mut back);
        assert_eq!(back, samples);
    }

    #[test]
    fn reads_aligned_payloads_in_place() {
        let samples = [7i16, -7, 300];
        let mut bytes = vec![0u8; 6];
        bytes_from_samples(&samples, &mut bytes);
        // A Vec<u8> from the allocator is aligned far past 2 bytes.
        assert_eq!(samples_of(&bytes), Some(&samples[..]));
        assert_eq!(samples_of(&bytes[1..5]), None, "misaligned");
        assert_eq!(samples_of(&bytes[..5]), None, "odd length");
    }

    #[test]
    #[should_panic(expected = "sizes")]
    fn refuses_mismatched_lengths() {
        samples_from_bytes(&[0; 3], &mut [0; 2]);
    }
}
