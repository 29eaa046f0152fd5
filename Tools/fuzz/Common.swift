// Shared by every fuzz target (compiled into each by Tools/fuzz/fuzz.sh):
// libFuzzer's entry points, which run the target its own file names
// (`let fuzzTarget = "segment"`) through `FuzzEntryPoints.run`.
#if canImport(Glibc)
import Glibc
#endif
import StateJournalTesting

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    check(FuzzEntryPoints.run(fuzzTarget, UnsafeRawBufferPointer(start: data, count: size)) ?? [])
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>,
                           _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    guard FuzzEntryPoints.targets.contains(fuzzTarget) else {
        fatalError("no fuzz target named '\(fuzzTarget)' (FuzzEntryPoints.targets: \(FuzzEntryPoints.targets.joined(separator: ", ")))")
    }
    writeSeedsIfAsked(fuzzTarget, argc, argv)
    return 0
}

/// Turns a broken invariant into a crash, so that libFuzzer keeps the input.
func check(_ broken: [String]) {
    if !broken.isEmpty { fatalError("invariant broken:\n" + broken.joined(separator: "\n")) }
}

/// `STATEJOURNAL_FUZZ_SEEDS=DIR target FILE…` writes the target's generated
/// seeds, made from the STATE.md files named, into DIR and exits; anything
/// else is libFuzzer's command line.
func writeSeedsIfAsked(_ target: String, _ argc: UnsafeMutablePointer<CInt>,
                       _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) {
    guard let dir = getenv("STATEJOURNAL_FUZZ_SEEDS").map({ String(cString: $0) }) else { return }
    var files: [[UInt8]] = []
    for i in 1..<Int(argc.pointee) {
        guard let arg = argv.pointee?[i], let f = fopen(arg, "rb") else { continue }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        fclose(f)
        files.append(bytes)
    }
    let seeds = FuzzEntryPoints.seeds(for: target, stateFiles: files)
    for (i, seed) in seeds.enumerated() {
        let path = dir + "/generated-\(i)"
        guard let f = fopen(path, "wb") else { fatalError("cannot write \(path)") }
        _ = seed.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        fclose(f)
    }
    exit(0)
}
