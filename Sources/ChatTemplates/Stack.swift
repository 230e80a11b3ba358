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
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    static func lowAddress() -> UInt? {
        if let p = pthread_getspecific(key) { return UInt(bitPattern: p) }
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
        if let l = low { pthread_setspecific(key, UnsafeRawPointer(bitPattern: l)) }
        return low
    }
}
