import ReadingsDomain
import ReadingsStorage

extension PostgresStore {
    public func deleteDevice(_ device: DeviceID) async throws -> Bool {
        throw StorageError.unavailable("not yet")
    }

    public func removeExpiredReadings() async throws -> Int { 0 }
}
