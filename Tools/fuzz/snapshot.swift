// Fuzz target 'snapshot': the snapshot decoder, then STATE.md, show --json and resume-info of its state.
// Built by Tools/fuzz/fuzz.sh with libFuzzer (swiftc -sanitize=fuzzer,address).
import StateJournalTesting

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    check(FuzzEntryPoints.snapshot(UnsafeRawBufferPointer(start: data, count: size)))
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>,
                           _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    writeSeedsIfAsked("snapshot", argc, argv)
    return 0
}
