import ArgumentParser

/// The order in which each device's readings are sent (`--order`).
enum BenchOrder: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// Time order; `--out-of-order P` makes P % of readings trade places with others, so that
    /// newer readings arrive before older ones.
    case `in`
    /// `in` with `--out-of-order` defaulting to 10 (and required to be above 0): some readings
    /// arrive late.
    case late
    /// Each device's whole history in a seeded pseudo-random order.
    case shuffled
    /// Each device's history newest first.
    case reversed

    /// `--out-of-order` when not given.
    var defaultOutOfOrderPercent: Double { self == .late ? 10 : 0 }

    /// Whether `--out-of-order` applies (it swaps readings of a time-ordered history).
    var takesOutOfOrder: Bool { self == .in || self == .late }
}
