// Fuzz target 'update': the JSON of 'update --from FILE': StateUpdate.parse, then the state.replaced write.
// Built by Tools/fuzz/fuzz.sh with libFuzzer (swiftc -sanitize=fuzzer,address).
import StateJournalTesting

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    check(FuzzEntryPoints.update(UnsafeRawBufferPointer(start: data, count: size)))
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>,
                           _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    writeSeedsIfAsked("update", argc, argv)
    return 0
}
