//! Injected upstream faults: the ways a provider fails, how a request asks for one, and a
//! deterministic choice of which requests fail at given rates (the same choice for the mock's
//! `--faults` and for the soak driver, which plans each request's fault itself).

use std::fmt;

/// Rates are counted in parts per million.
pub const PER_MILLION: u64 = 1_000_000;

/// One way a provider fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// `500` with an OpenAI-shaped error body.
    ServerError,
    /// `429` with `retry-after` (whole seconds) and an OpenAI-shaped error body.
    RateLimited,
    /// The head and part of the body (a few chunks of a stream), then a TCP reset.
    Reset,
    /// Nothing at all for a while (longer than the gateway's timeout), then the normal answer.
    Stall,
    /// A `200` whose body is not JSON (for a stream: one chunk that is not JSON).
    BadJson,
}

impl Fault {
    /// Every fault, in the order counts are reported.
    pub const ALL: [Fault; 5] = [Fault::ServerError, Fault::RateLimited, Fault::Reset, Fault::Stall, Fault::BadJson];

    /// The fault's name in flags, headers, model tokens and reports.
    pub fn name(self) -> &'static str {
        match self {
            Fault::ServerError => "500",
            Fault::RateLimited => "429",
            Fault::Reset => "reset",
            Fault::Stall => "stall",
            Fault::BadJson => "json",
        }
    }

    /// The fault called `name`, if any.
    pub fn parse(name: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == name.trim())
    }

    /// Its position in [`Fault::ALL`] (for counters).
    pub fn index(self) -> usize {
        match self {
            Fault::ServerError => 0,
            Fault::RateLimited => 1,
            Fault::Reset => 2,
            Fault::Stall => 3,
            Fault::BadJson => 4,
        }
    }

    /// The fault a model name asks for: a `-f<name>` token in a `mock-…` name
    /// (`mock-f500`, `mock-c8-freset`), which reaches the mock through any gateway.
    pub fn from_model(model: &str) -> Option<Fault> {
        let rest = model.strip_prefix("mock-")?;
        rest.split('-').find_map(|token| token.strip_prefix('f').and_then(Fault::parse))
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Rates of each fault: `500=0.01,429=0.005,reset=0.005,stall=0.002,json=0.005`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mix {
    /// Parts per million of each fault, indexed like [`Fault::ALL`].
    ppm: [u64; Fault::ALL.len()],
}

impl Mix {
    /// Parses `name=rate` pairs (rate a fraction of 1); the rates must sum to at most 1.
    pub fn parse(text: &str) -> Result<Mix, String> {
        let mut mix = Mix::default();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, rate) = pair.split_once('=').ok_or_else(|| format!("fault {pair:?}: use name=rate"))?;
            let fault = Fault::parse(name).ok_or_else(|| {
                let names: Vec<_> = Fault::ALL.iter().map(|f| f.name()).collect();
                format!("unknown fault {name:?} (known: {})", names.join(", "))
            })?;
            let rate: f64 = rate.trim().parse().map_err(|_| format!("fault {name}: rate {rate:?} is not a number"))?;
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("fault {name}: rate {rate} is not within 0..=1"));
            }
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss,
                reason = "a rounded, non-negative count far below 2^52"
            )]
            let ppm = (rate * PER_MILLION as f64).round() as u64;
            mix.ppm[fault.index()] = ppm;
        }
        if mix.total_ppm() > PER_MILLION {
            return Err(format!("fault rates sum to more than 1: {text}"));
        }
        Ok(mix)
    }

    /// The share of requests that fail, in parts per million.
    pub fn total_ppm(&self) -> u64 {
        self.ppm.iter().sum()
    }

    /// Whether no fault is ever chosen.
    pub fn is_empty(&self) -> bool {
        self.total_ppm() == 0
    }

    /// The fault of request number `n` (counted from 0) in a run seeded with `seed`: the same
    /// answer every time, and over many requests each fault's share approaches its rate.
    pub fn pick(&self, seed: u64, n: u64) -> Option<Fault> {
        if self.is_empty() {
            return None;
        }
        let mut draw = splitmix64(seed ^ splitmix64(n)) % PER_MILLION;
        for fault in Fault::ALL {
            let ppm = self.ppm[fault.index()];
            if draw < ppm {
                return Some(fault);
            }
            draw -= ppm;
        }
        None
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for fault in Fault::ALL {
            let ppm = self.ppm[fault.index()];
            if ppm > 0 {
                #[expect(clippy::cast_precision_loss, reason = "counts and durations far below 2^52")]
                let rate = ppm as f64 / PER_MILLION as f64;
                write!(f, "{}{fault}={rate}", if first { "" } else { "," })?;
                first = false;
            }
        }
        Ok(())
    }
}

/// A well-mixed 64-bit hash (Steele, Lea and Flood's SplitMix64 finaliser).
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for fault in Fault::ALL {
            assert_eq!(Fault::parse(fault.name()), Some(fault));
            assert_eq!(Fault::ALL[fault.index()], fault);
        }
        assert_eq!(Fault::parse("503"), None);
    }

    #[test]
    fn model_tokens_ask_for_faults() {
        assert_eq!(Fault::from_model("mock-f500"), Some(Fault::ServerError));
        assert_eq!(Fault::from_model("mock-c8-i10-freset"), Some(Fault::Reset));
        assert_eq!(Fault::from_model("mock-c8-fjson"), Some(Fault::BadJson));
        assert_eq!(Fault::from_model("mock-c8-i10"), None);
        assert_eq!(Fault::from_model("gpt-4o-f500"), None, "only mock-… names");
    }

    #[test]
    fn mix_parses_and_rejects() {
        let mix = Mix::parse("500=0.01, 429=0.005,reset=0.005,stall=0.002,json=0.003").unwrap();
        assert_eq!(mix.total_ppm(), 25_000);
        assert_eq!(Mix::parse(&mix.to_string()).unwrap(), mix);
        assert!(Mix::parse("").unwrap().is_empty());
        assert!(Mix::parse("503=0.1").is_err());
        assert!(Mix::parse("500").is_err());
        assert!(Mix::parse("500=1.5").is_err());
        assert!(Mix::parse("500=0.6,429=0.6").is_err());
    }

    #[test]
    fn picks_are_deterministic_and_near_their_rates() {
        const N: u64 = 200_000;
        let mix = Mix::parse("500=0.02,429=0.01,reset=0.01,stall=0.005,json=0.01").unwrap();
        let mut counts = [0u64; Fault::ALL.len()];
        for n in 0..N {
            let pick = mix.pick(7, n);
            assert_eq!(pick, mix.pick(7, n));
            if let Some(fault) = pick {
                counts[fault.index()] += 1;
            }
        }
        for fault in Fault::ALL {
            let expected = N * mix.ppm[fault.index()] / PER_MILLION;
            let got = counts[fault.index()];
            assert!(got.abs_diff(expected) * 10 < expected, "{fault}: {got} vs {expected}");
        }
        let other: Vec<_> = (0..1000).map(|n| mix.pick(8, n)).collect();
        let same: Vec<_> = (0..1000).map(|n| mix.pick(7, n)).collect();
        assert_ne!(other, same, "the seed changes the plan");
    }

    #[test]
    fn an_empty_mix_never_fails_and_a_full_one_always_does() {
        assert!((0..1000).all(|n| Mix::default().pick(1, n).is_none()));
        let all = Mix::parse("reset=1").unwrap();
        assert!((0..1000).all(|n| all.pick(1, n) == Some(Fault::Reset)));
    }
}
