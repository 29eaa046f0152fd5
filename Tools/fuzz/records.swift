// Fuzz target 'records': the record decoder: RecordFormat.scan against RecordAssembler, then the event decoder.
// Built by Tools/fuzz/fuzz.sh with libFuzzer (swiftc -sanitize=fuzzer,address).
import StateJournalTesting

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    check(FuzzEntryPoints.records(UnsafeRawBufferPointer(start: data, count: size)))
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>,
                           _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    writeSeedsIfAsked("records", argc, argv)
    return 0
}
