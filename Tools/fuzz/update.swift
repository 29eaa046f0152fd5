// Fuzz target 'update': the JSON of 'update --from FILE': StateUpdate.parse, then the state.replaced write.
// Built by Tools/fuzz/fuzz.sh with libFuzzer (swiftc -sanitize=fuzzer,address), with Common.swift, whose entry points run it.
let fuzzTarget = "update"
