import Foundation
import XCTest

/// `statejournal` links no database client; a command given a postgres://
/// store becomes `statejournal-pg` (Docs/STORES.md).
final class StoreProgramTests: XCTestCase {
    /// What a file-journal command loads: not the whole Foundation (with
    /// ICU's data), no TLS, and no PostgreSQL client in the program itself.
    func testStatejournalLinksNoDatabaseClient() throws {
        let ldd = Process()
        ldd.executableURL = URL(fileURLWithPath: "/usr/bin/ldd")
        ldd.arguments = [CLI.binary]
        let pipe = Pipe()
        ldd.standardOutput = pipe
        try ldd.run()
        let libraries = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        ldd.waitUntilExit()
        for forbidden in ["libFoundation.so", "FoundationInternationalization", "FoundationICU", "libcurl", "libssl"] {
            XCTAssertFalse(libraries.contains(forbidden), "statejournal loads \(forbidden):\n\(libraries)")
        }
        let program = try Data(contentsOf: URL(fileURLWithPath: CLI.binary))
        XCTAssertNil(program.range(of: Data("PostgresNIO".utf8)), "statejournal has the PostgreSQL client linked in")
    }

    /// Without statejournal-pg beside it or on the PATH, a postgres:// store
    /// is exit 1 naming the program to install, and nothing is written.
    func testPostgresStoreWithoutStatejournalPgSaysWhatToInstall() throws {
        let dir = NSTemporaryDirectory() + "sj-alone-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: CLI.binary, toPath: dir + "/statejournal")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: dir + "/statejournal")
        process.arguments = ["--state", dir + "/STATE.md", "--store", "postgres://agent@db.invalid:5432/work?workflow=w1", "note", "hello"]
        process.environment = ["PATH": dir + "/empty", "PGPASSWORD": "s3cret-never-shown"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = Pipe()
        try process.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 1, message)
        XCTAssertTrue(message.contains("statejournal-pg"), message)
        XCTAssertFalse(message.contains("s3cret"), message)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["statejournal"], "nothing written")
    }
}
