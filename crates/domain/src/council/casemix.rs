//! Ordinary least squares for the case-mix adjustment: the coefficients β minimising
//! Σ(y − Xβ)², from the normal equations XᵀXβ = Xᵀy solved by Gaussian elimination with
//! partial pivoting. An intercept is added to the predictors.

/// The fewest plans a fit is made on.
pub const MIN_FIT: usize = 10;

/// A fitted linear model: intercept first, then one coefficient per predictor.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub coefficients: Vec<f64>,
    pub n: usize,
}

impl Fit {
    /// The expected value for predictors `x`.
    pub fn predict(&self, x: &[f64]) -> f64 {
        self.coefficients[0]
            + self.coefficients[1..]
                .iter()
                .zip(x)
                .map(|(b, v)| b * v)
                .sum::<f64>()
    }
}

/// Fits `y` on `x` (one row of predictors per observation) with an intercept; `None`
/// with fewer than [`MIN_FIT`] observations or when the predictors are collinear.
#[expect(
    clippy::needless_range_loop,
    reason = "the normal equations read as matrix arithmetic with indices"
)]
pub fn ols(x: &[Vec<f64>], y: &[f64]) -> Option<Fit> {
    let n = y.len();
    if n < MIN_FIT || x.len() != n {
        return None;
    }
    let k = x[0].len() + 1;
    let row = |i: usize| {
        std::iter::once(1.0)
            .chain(x[i].iter().copied())
            .collect::<Vec<f64>>()
    };
    // The augmented matrix [XᵀX | Xᵀy].
    let mut a = vec![vec![0.0; k + 1]; k];
    for i in 0..n {
        let r = row(i);
        if r.len() != k {
            return None;
        }
        for p in 0..k {
            for q in 0..k {
                a[p][q] += r[p] * r[q];
            }
            a[p][k] += r[p] * y[i];
        }
    }
    for col in 0..k {
        let pivot = (col..k).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        let scale = a.iter().map(|r| r[col].abs()).fold(0.0, f64::max).max(1.0);
        if a[pivot][col].abs() < 1e-9 * scale {
            return None;
        }
        a.swap(col, pivot);
        for r in 0..k {
            if r != col {
                let f = a[r][col] / a[col][col];
                for c in col..=k {
                    let v = f * a[col][c];
                    a[r][c] -= v;
                }
            }
        }
    }
    let coefficients = (0..k).map(|i| a[i][k] / a[i][i]).collect();
    Some(Fit { coefficients, n })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_exact_line_is_recovered() {
        let x: Vec<Vec<f64>> = (0..12)
            .map(|i| vec![f64::from(i), f64::from(i * i % 7)])
            .collect();
        let y: Vec<f64> = x.iter().map(|r| 3.0 + 2.0 * r[0] - 0.5 * r[1]).collect();
        let fit = ols(&x, &y).unwrap();
        for (got, want) in fit.coefficients.iter().zip([3.0, 2.0, -0.5]) {
            assert!((got - want).abs() < 1e-9, "{got} {want}");
        }
        assert!((fit.predict(&[4.0, 2.0]) - 10.0).abs() < 1e-9);
    }

    #[test]
    fn too_few_plans_or_collinear_predictors_are_not_fitted() {
        let x: Vec<Vec<f64>> = (0..9).map(|i| vec![f64::from(i)]).collect();
        let y: Vec<f64> = (0..9).map(f64::from).collect();
        assert_eq!(ols(&x, &y), None);
        let x: Vec<Vec<f64>> = (0..12)
            .map(|i| vec![f64::from(i), 2.0 * f64::from(i)])
            .collect();
        let y: Vec<f64> = (0..12).map(f64::from).collect();
        assert_eq!(ols(&x, &y), None);
    }

    proptest! {
        /// The residuals of a least-squares fit with an intercept sum to zero and are
        /// orthogonal to every predictor (the normal equations).
        #[test]
        fn residuals_are_orthogonal_to_the_predictors(
            data in proptest::collection::vec((0i32..90, 40i32..95, 0i32..60, -20i32..60), 10..60)
        ) {
            let x: Vec<Vec<f64>> = data.iter().map(|(a, b, c, _)| vec![f64::from(*a), f64::from(*b), f64::from(*c)]).collect();
            let y: Vec<f64> = data.iter().map(|d| f64::from(d.3)).collect();
            if let Some(fit) = ols(&x, &y) {
                let res: Vec<f64> = x.iter().zip(&y).map(|(r, y)| y - fit.predict(r)).collect();
                let scale = y.iter().map(|v| v.abs()).sum::<f64>().max(1.0) * 1e3;
                prop_assert!(res.iter().sum::<f64>().abs() < 1e-6 * scale);
                for j in 0..3 {
                    let dot: f64 = x.iter().zip(&res).map(|(r, e)| r[j] * e).sum();
                    prop_assert!(dot.abs() < 1e-4 * scale, "{dot}");
                }
            }
        }
    }
}
