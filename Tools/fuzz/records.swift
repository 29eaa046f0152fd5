// Fuzz target 'records': the record decoder: RecordFormat.scan against RecordAssembler, then the event decoder.
// Built by Tools/fuzz/fuzz.sh with libFuzzer (swiftc -sanitize=fuzzer,address), with Common.swift, whose entry points run it.
let fuzzTarget = "records"
