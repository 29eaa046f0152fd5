// Fuzz target 'snapshot': the snapshot decoder, then STATE.md, show --json and resume-info of its state.
// Built by Tools/fuzz/fuzz.sh with libFuzzer (swiftc -sanitize=fuzzer,address), with Common.swift, whose entry points run it.
let fuzzTarget = "snapshot"
