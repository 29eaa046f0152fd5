// Fuzz target 'plan': the JSON of 'init --plan FILE': WorkflowPlan.parse, then the workflow.initialized write.
// Built by Tools/fuzz/fuzz.sh with libFuzzer (swiftc -sanitize=fuzzer,address).
import StateJournalTesting

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    check(FuzzEntryPoints.plan(UnsafeRawBufferPointer(start: data, count: size)))
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>,
                           _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    writeSeedsIfAsked("plan", argc, argv)
    return 0
}
