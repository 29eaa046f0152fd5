// Fuzz target 'segment': the segment reader over raw and zstd bytes: readEvents with and without the lock, verify.
// Built by Tools/fuzz/fuzz.sh with libFuzzer (swiftc -sanitize=fuzzer,address).
import StateJournalTesting

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    check(FuzzEntryPoints.segment(UnsafeRawBufferPointer(start: data, count: size)))
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>,
                           _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    writeSeedsIfAsked("segment", argc, argv)
    return 0
}
