import Foundation
#if canImport(Glibc)
import Glibc
// A GNU extension the Glibc module does not export.
@_silgen_name("pthread_getattr_np")
private func gnu_pthread_getattr_np(_ thread: pthread_t, _ attr: UnsafeMutablePointer<pthread_attr_t>) -> Int32
#elseif canImport(Darwin)
import Darwin
#endif

/// How much stack the current thread has left, so deep recursion in a hostile template becomes an error
/// rather than a crash, whatever thread (main, worker, small-stack) renders it.
enum StackBounds {
    /// Lowest usable address of the current thread's stack (cached per thread), or nil if unknown.
    static func lowAddress() -> UInt? {
        let key = "SwiftTune.ChatTemplates.stackLow"
        if let v = Thread.current.threadDictionary[key] as? UInt { return v }
        var low: UInt? = nil
        #if canImport(Glibc)
        var attr = pthread_attr_t()
        if gnu_pthread_getattr_np(pthread_self(), &attr) == 0 {
            var addr: UnsafeMutableRawPointer? = nil
            var size = 0
            if pthread_attr_getstack(&attr, &addr, &size) == 0, let a = addr { low = UInt(bitPattern: a) }
            pthread_attr_destroy(&attr)
        }
        #elseif canImport(Darwin)
        let top = UInt(bitPattern: pthread_get_stackaddr_np(pthread_self()))
        low = top - UInt(pthread_get_stacksize_np(pthread_self()))
        #endif
        if let l = low { Thread.current.threadDictionary[key] = l }
        return low
    }
}
