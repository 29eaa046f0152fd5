// Fuzz target 'statefile': STATE.md: footer check, parser, validator; what import accepts renders back the same.
// Built by Tools/fuzz/fuzz.sh with libFuzzer (swiftc -sanitize=fuzzer,address), with Common.swift, whose entry points run it.
let fuzzTarget = "statefile"
