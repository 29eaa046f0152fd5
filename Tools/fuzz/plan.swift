// Fuzz target 'plan': the JSON of 'init --plan FILE': WorkflowPlan.parse, then the workflow.initialized write.
// Built by Tools/fuzz/fuzz.sh with libFuzzer (swiftc -sanitize=fuzzer,address), with Common.swift, whose entry points run it.
let fuzzTarget = "plan"
