//! Order statistics of the reports: the median and quartiles by linear interpolation
//! between order statistics (Hyndman & Fan 1996 type 7, the default of R's `quantile`
//! and of spreadsheets' QUARTILE.INC), so a reader can recompute every figure.

/// The `p`-quantile (0 ≤ p ≤ 1) of `values` by type-7 interpolation; `None` when empty.
pub fn quantile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    Some(quantile_sorted(&v, p))
}

/// [`quantile`] of values already sorted ascending (not empty).
pub fn quantile_sorted(v: &[f64], p: f64) -> f64 {
    let h = (v.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

/// The median; `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    quantile(values, 0.5)
}

/// The arithmetic mean; `None` when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Minimum, first quartile, median, third quartile, maximum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FiveNumbers {
    pub min: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub max: f64,
}

/// The five numbers of a box plot; `None` when empty.
pub fn five_numbers(values: &[f64]) -> Option<FiveNumbers> {
    if values.is_empty() {
        return None;
    }
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    Some(FiveNumbers {
        min: v[0],
        q1: quantile_sorted(&v, 0.25),
        median: quantile_sorted(&v, 0.5),
        q3: quantile_sorted(&v, 0.75),
        max: v[v.len() - 1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quartiles_interpolate_like_r_type_7() {
        let v = [1.0, 2.0, 3.0, 4.0];
        let f = five_numbers(&v).unwrap();
        assert_eq!(
            (f.min, f.q1, f.median, f.q3, f.max),
            (1.0, 1.75, 2.5, 3.25, 4.0)
        );
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[]), None);
    }

    proptest! {
        #[test]
        fn the_median_splits_the_values_in_halves(v in proptest::collection::vec(-1000i32..1000, 1..60)) {
            let values: Vec<f64> = v.iter().map(|x| f64::from(*x)).collect();
            let m = median(&values).unwrap();
            let below = values.iter().filter(|x| **x < m).count();
            let above = values.iter().filter(|x| **x > m).count();
            prop_assert!(below <= values.len() / 2 && above <= values.len() / 2);
            let f = five_numbers(&values).unwrap();
            prop_assert!(f.min <= f.q1 && f.q1 <= f.median && f.median <= f.q3 && f.q3 <= f.max);
        }
    }
}
