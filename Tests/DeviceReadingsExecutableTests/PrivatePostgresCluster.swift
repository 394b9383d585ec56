import Foundation
import Testing

/// A PostgreSQL cluster of one test's own (initdb into a temporary folder, a port of its own),
/// which the test may freeze with SIGSTOP or give TLS and passwords without disturbing any other
/// test: the shared cluster of scripts/with-postgres.sh serves the whole suite at once.
///
/// TCP connections need the password (scram-sha-256); `psql` reaches the cluster through its
/// Unix socket without one. As root, every PostgreSQL program runs as the postgres user, as
/// scripts/with-postgres.sh does (initdb refuses root).
final class PrivatePostgresCluster: Sendable {
    let directory: String
    let port: Int
    let password: String
    private let bin: String

    /// The folder of `initdb`, `pg_ctl` and `psql`: `pg_config --bindir`, or else the newest
    /// /usr/lib/postgresql/*/bin; nil when PostgreSQL is not installed.
    static let binaries: String? = {
        if let result = try? ServerProcess.runTool("/usr/bin/env", ["pg_config", "--bindir"]), result.status == 0 {
            let folder = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
            if access("\(folder)/initdb", X_OK) == 0 { return folder }
        }
        return (9...40).reversed().lazy.map { "/usr/lib/postgresql/\($0)/bin" }.first { access("\($0)/initdb", X_OK) == 0 }
    }()

    /// Whether `CI` is set: there PostgreSQL must be installed (.ci/run does it), and the tests
    /// fail rather than skip without it.
    static let onCI = !(ProcessInfo.processInfo.environment["CI"] ?? "").isEmpty

    /// Initialises and starts a cluster listening on `addresses`, with `settings` (`name=value`)
    /// given to the server; `prepare` runs on the data folder after initdb and before the start
    /// (for certificate files).
    init(addresses: [String] = ["127.0.0.1"], settings: [String] = [], prepare: (String) throws -> Void = { _ in }) throws {
        bin = try #require(PrivatePostgresCluster.binaries, "PostgreSQL is not installed (apt-get install postgresql)")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dr-pgfault-\(UUID().uuidString.prefix(8))").path
        password = "pw-\(UUID().uuidString.prefix(12))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try password.write(toFile: "\(directory)/pwfile", atomically: true, encoding: .utf8)
        try PrivatePostgresCluster.chown(directory, recursive: true)
        try runPostgresTool(
            "initdb", bin: bin,
            [
                "-D", "\(directory)/data", "-U", "postgres", "--pwfile=\(directory)/pwfile", "--auth-local=trust",
                "--auth-host=scram-sha-256", "--no-locale", "-E", "UTF8",
            ])
        // initdb allows 127.0.0.1 only; a client of another loopback address may come from it.
        let hba = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(directory)/data/pg_hba.conf"))
        try hba.seekToEnd()
        try hba.write(contentsOf: Data("host all all 127.0.0.0/8 scram-sha-256\n".utf8))
        try hba.close()
        try prepare("\(directory)/data")
        try PrivatePostgresCluster.chown("\(directory)/data", recursive: true)
        // A port free a moment ago may be taken by another test meanwhile: a start that fails
        // is tried again on another port, and the last failure says why with the server's log.
        var chosen = 0
        for attempt in 1...3 {
            chosen = ServerProcess.freePort()
            let options =
                [
                    "-p \(chosen)", "-k \(directory)", "-c listen_addresses=\(addresses.joined(separator: ","))", "-c fsync=off",
                    // It inherits the test process's open descriptors and counts only up to this
                    // many: raised, so that it starts whatever else the tests have open.
                    "-c max_files_per_process=10000",
                ]
                + settings.map { "-c \($0)" }
            do {
                try runPostgresTool(
                    "pg_ctl", bin: bin,
                    ["-D", "\(directory)/data", "-l", "\(directory)/log", "-w", "-o", options.joined(separator: " "), "start"])
                break
            } catch let error as TestClusterError where attempt == 3 {
                let log = (try? String(contentsOfFile: "\(directory)/log", encoding: .utf8)) ?? ""
                throw TestClusterError(message: error.message + "\nserver log:\n" + log.suffix(2000))
            } catch {
                continue
            }
        }
        port = chosen
    }

    /// A cluster with TLS on (and plain text still allowed), with a self-signed certificate
    /// (data/server.crt) for localhost and 127.0.0.1, listening on 127.0.0.1 and on 127.0.0.2,
    /// which the certificate does not name.
    static func withTLS() throws -> PrivatePostgresCluster {
        try PrivatePostgresCluster(
            addresses: ["127.0.0.1", "127.0.0.2"], settings: ["ssl=on", "ssl_cert_file=server.crt", "ssl_key_file=server.key"]
        ) { data in
            try makeSelfSignedCertificate(in: data, names: ["DNS:localhost", "IP:127.0.0.1"])
        }
    }

    /// A URL for the server's TCP address `host`, with the password and `query` (`sslmode=…`).
    func url(host: String = "127.0.0.1", password: String? = nil, query: String = "") -> String {
        "postgres://postgres:\(password ?? self.password)@\(host):\(port)/postgres" + (query.isEmpty ? "" : "?\(query)")
    }

    /// The postmaster's process id (first line of postmaster.pid).
    var postmaster: pid_t? {
        let text = (try? String(contentsOfFile: "\(directory)/data/postmaster.pid", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").first.flatMap { pid_t($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// The postmaster's children: the backends and background processes (ppid in /proc/PID/stat).
    var children: [pid_t] {
        guard let postmaster else { return [] }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry) else { return nil }
            // "PID (COMMAND) STATE PPID …"; the command may hold spaces and parentheses.
            let stat = readProcFile("/proc/\(pid)/stat")
            guard let close = stat.range(of: ")", options: .backwards) else { return nil }
            let fields = stat[close.upperBound...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == postmaster ? pid : nil
        }
    }

    /// Stops every process of the cluster (SIGSTOP): the postmaster first, so that it forks no
    /// new backend meanwhile, then its children. Connections stay open and go silent, like a
    /// database host that froze or a network that drops everything.
    func freeze() {
        guard let postmaster else { return }
        kill(postmaster, SIGSTOP)
        for child in children { kill(child, SIGSTOP) }
    }

    /// Lets every process of the cluster run again (SIGCONT).
    func thaw() {
        for child in children { kill(child, SIGCONT) }
        if let postmaster { kill(postmaster, SIGCONT) }
    }

    /// Runs `sql` with psql through the Unix socket; returns its unaligned output.
    @discardableResult
    func psql(_ sql: String) throws -> String {
        try run(
            "psql",
            ["-h", directory, "-p", "\(port)", "-U", "postgres", "-d", "postgres", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
    }

    /// Whether the server's connections (TCP clients: psql comes through the socket) use TLS:
    /// "true", "false", "false,true" for some of each, or "" for none.
    func encryptionOfServerConnections() throws -> String {
        try psql(
            """
            SELECT coalesce(string_agg(DISTINCT s.ssl::text, ','), '') FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
            WHERE a.client_addr IS NOT NULL AND a.backend_type = 'client backend'
            """
        ).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Waits until no TCP client is connected: the backends of a stopped server end a moment
    /// after it.
    func waitUntilNoServerConnections(timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while try encryptionOfServerConnections() != "" {
            try #require(ContinuousClock.now < deadline, "the server's connections are still open after \(timeout)")
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Starts a psql session that locks the row of `device` (`SELECT … FOR UPDATE`) and keeps
    /// it for a minute, as an instance frozen mid-batch would; returns once the lock is held
    /// (the session sleeps). ``releaseRowLocks()`` ends it.
    func holdRowLock(device: String) async throws {
        let sql = "BEGIN; SELECT 1 FROM devices WHERE device_id = '\(device)' FOR UPDATE; SELECT pg_sleep(60);"
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: getuid() == 0 ? "/usr/sbin/runuser" : "\(bin)/psql")
        holder.arguments =
            (getuid() == 0 ? ["-u", "postgres", "--", "\(bin)/psql"] : [])
            + ["-h", directory, "-p", "\(port)", "-U", "postgres", "-d", "postgres", "-X", "-q", "-c", sql]
        holder.standardOutput = FileHandle.nullDevice
        holder.standardError = FileHandle.nullDevice
        try launching { try holder.run() }
        let deadline = ContinuousClock.now + .seconds(10)
        while try psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'").trimmingCharacters(in: .whitespacesAndNewlines)
            != "1"
        {
            try #require(holder.isRunning && ContinuousClock.now < deadline, "the psql session did not take the lock")
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Ends the sessions of ``holdRowLock(device:)``, which releases their locks.
    func releaseRowLocks() throws {
        try psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep'")
    }

    /// Thaws the cluster (a stopped postmaster would not stop), stops it and deletes its folder.
    func destroy() {
        thaw()
        _ = try? run("pg_ctl", ["-D", "\(directory)/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Gives `path` to the postgres user when we are root, since the server runs as that user.
    func chownToPostgres(_ path: String, recursive: Bool = false) throws {
        try PrivatePostgresCluster.chown(path, recursive: recursive)
    }

    static func chown(_ path: String, recursive: Bool = false) throws {
        guard getuid() == 0 else { return }
        let result = try ServerProcess.runTool("/bin/chown", (recursive ? ["-R"] : []) + ["postgres", path])
        guard result.status == 0 else { throw TestClusterError(message: "chown failed: \(result.output)") }
    }

    /// Runs a PostgreSQL program, as the postgres user when we are root; returns its output.
    @discardableResult
    private func run(_ tool: String, _ arguments: [String]) throws -> String {
        try runPostgresTool(tool, bin: bin, arguments)
    }
}

/// A self-signed certificate for `names` (`DNS:localhost`, `IP:127.0.0.1`) made with openssl in
/// `folder`: server.crt and server.key, which the cluster's postgres user can read.
func makeSelfSignedCertificate(in folder: String, names: [String]) throws {
    let result = try ServerProcess.runTool(
        "/usr/bin/openssl",
        [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=device-readings test", "-addext", "subjectAltName=\(names.joined(separator: ","))",
            "-keyout", "\(folder)/server.key", "-out", "\(folder)/server.crt",
        ])
    guard result.status == 0 else { throw TestClusterError(message: "openssl failed: \(result.output)") }
    // The server refuses a key that others may read.
    chmod("\(folder)/server.key", 0o600)
}

/// Runs a PostgreSQL program of `bin`, as the postgres user when we are root (initdb refuses
/// root); returns its output. A server started from here would inherit the test process's open
/// descriptors, which under the full suite come near the descriptor limit: they are closed first.
@discardableResult
func runPostgresTool(_ tool: String, bin: String, _ arguments: [String]) throws -> String {
    let result =
        getuid() == 0
        ? try ServerProcess.runTool(
            "/usr/bin/python3",
            [
                "-c", "import os, sys; os.closerange(3, 65536); os.execv(sys.argv[1], sys.argv[1:])",
                "/usr/sbin/runuser", "-u", "postgres", "--", "\(bin)/\(tool)",
            ] + arguments)
        : try ServerProcess.runTool("\(bin)/\(tool)", arguments)
    guard result.status == 0 else { throw TestClusterError(message: "\(tool) failed: \(result.output)") }
    return result.output
}
