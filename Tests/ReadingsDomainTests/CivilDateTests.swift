import Testing

@testable import ReadingsDomain

/// Covers `CivilDate` (days ⇄ proleptic Gregorian dates) on every day of the supported range
/// and beyond, walking the calendar one day at a time as an independent oracle.
@Suite("CivilDate")
struct CivilDateTests {
    @Test("days(year:month:day:) and date(days:) agree with a day-by-day walk of the calendar")
    func everyDay() {
        // 1600-01-01 is 135_140 days before 1970-01-01; walk to 2300-12-31.
        var year = 1600
        var month = 1
        var day = 1
        var days: Int64 = -135_140
        var failures = 0
        while year <= 2300 && failures < 5 {
            let date = CivilDate.date(days: days)
            let back = CivilDate.days(year: year, month: month, day: day)
            if date != (year, month, day) || back != days {
                failures += 1
                Issue.record("\(year)-\(month)-\(day): days \(back), expected \(days); date(\(days)) = \(date)")
            }
            day += 1
            if day > Int(ReferenceCalendar.daysIn(month: month, of: year)) {
                day = 1
                month += 1
                if month > 12 {
                    month = 1
                    year += 1
                }
            }
            days += 1
        }
        #expect(failures == 0)
    }

    @Test(
        "known dates",
        arguments: [
            (1970, 1, 1, Int64(0)), (1969, 12, 31, -1), (2000, 3, 1, 11_017), (2000, 2, 29, 11_016),
            (1900, 3, 1, -25_508), (1677, 9, 21, -106_752), (2262, 4, 11, 106_751), (2023, 1, 1, 19_358),
        ])
    func knownDates(_ year: Int, _ month: Int, _ day: Int, _ days: Int64) {
        #expect(CivilDate.days(year: year, month: month, day: day) == days)
        #expect(CivilDate.date(days: days) == (year, month, day))
    }

    @Test("month lengths, with the Gregorian leap-year rule")
    func monthLengths() {
        #expect(CivilDate.daysInMonth(year: 2023, month: 2) == 28)
        #expect(CivilDate.daysInMonth(year: 2024, month: 2) == 29)
        #expect(CivilDate.daysInMonth(year: 1900, month: 2) == 28)
        #expect(CivilDate.daysInMonth(year: 2000, month: 2) == 29)
        #expect(CivilDate.daysInMonth(year: 2100, month: 2) == 28)
        #expect((1...12).map { CivilDate.daysInMonth(year: 2023, month: $0) } == [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    }
}
