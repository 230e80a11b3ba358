/// glibc serves large blocks (> 128 KiB at first) with fresh `mmap`s, so every new activation buffer
/// page-faults on first touch and goes back to the kernel on free. A training step allocates and frees
/// the same sizes over and over; keeping them in the heap makes reuse free.
public enum Allocator {
    /// Raises glibc's mmap and trim thresholds (call once at start-up, before heavy allocation).
    public static func keepLargeBlocksInHeap() {
        #if os(Linux)
        _ = glibcMallopt(-3, 1 << 30)        // M_MMAP_THRESHOLD
        _ = glibcMallopt(-1, Int32.max)      // M_TRIM_THRESHOLD
        #endif
    }
}

#if os(Linux)
// Swift's Glibc module does not import mallopt (malloc.h).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
