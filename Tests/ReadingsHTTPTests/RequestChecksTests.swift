import NIOCore
import Testing

@testable import ReadingsHTTP

@Suite("RequestChecks")
struct RequestChecksTests {
    @Test("isJSONMediaType accepts application/json and application/*+json, in any case, with parameters")
    func jsonMediaTypes() {
        let accepted = [
            "application/json", "APPLICATION/JSON", "Application/Json", "application/json; charset=utf-8",
            " application/json ", "\tapplication/json\t;x=y", "application/json;", "application/vnd.readings+json",
            "application/a+JSON", "application/problem+json; charset=utf-8", "application/é+json",
        ]
        let refused = [
            "", " ", ";", "application", "application/", "/json", "text/json", "application/jsonx", "application/x-json",
            "application/+json", "application/ json", "application /json", "application/json/x", "application/json+",
            "applicationx/json", "text/plain", "application/x-www-form-urlencoded", "json", "application\\json",
        ]
        for value in accepted {
            var text = value
            #expect(text.withUTF8 { RequestChecks.isJSONMediaType($0) }, "\(value)")
        }
        for value in refused {
            var text = value
            #expect(!text.withUTF8 { RequestChecks.isJSONMediaType($0) }, "\(value)")
        }
    }

    @Test("new request ids are 32 lower-case hex digits and do not repeat")
    func newRequestIDs() {
        let ids = (0..<10_000).map { _ in RequestID(given: nil).description }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.utf8.count == 32 && $0.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) } })
        #expect(RequestID(given: "client-id-1").description == "client-id-1")
        #expect(RequestID(given: "has space").description != "has space")
        // Written into a response as it reads.
        let id = RequestID(given: nil)
        var buffer = ByteBuffer()
        id.write(into: &buffer)
        #expect(String(buffer: buffer) == id.description)
    }
}
