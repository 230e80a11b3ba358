import Tensors

// Before anything touches BLAS: fix OpenBLAS's kernel choice on CPUs it misdetects.
BLASRuntime.reexecWithOptimalCoreIfNeeded()
Allocator.keepLargeBlocksInHeap()
SwiftTune.main()
