// Fuzz target 'segment': the segment reader over raw and zstd bytes: readEvents with and without the lock, verify.
// Built by Tools/fuzz/fuzz.sh with libFuzzer (swiftc -sanitize=fuzzer,address), with Common.swift, whose entry points run it.
let fuzzTarget = "segment"
