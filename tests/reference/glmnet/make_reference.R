#!/usr/bin/env Rscript
# Compute reference Elastic Net solutions with R's glmnet and write cases.json.
#
# Our objective (scikit-learn ElasticNet scaling, weights normalised to sum 1):
#   1/(2 sum w) sum_i w_i (y_i - b0 - x_i.b)^2
#     + alpha * sum_j v_j * ( r |b_j| + (1-r)/2 b_j^2 ),      r = l1_ratio
# (with standardize, b_j replaced by s_j b_j in the penalty).
#
# glmnet (gaussian) minimises the same form with lambda and its own alpha, but
# it first scales y by its weighted population sd s_y and divides the user's
# lambda by s_y. On the raw y that leaves the L1 weight at lambda*alpha_g but
# the L2 weight at lambda*(1-alpha_g)/s_y. Solving
#     lambda*alpha_g = a*r,   lambda*(1-alpha_g)/s_y = a*(1-r)
# gives  k = r + (1-r)*s_y,  alpha_g = r/k,  lambda = a*k.
# s_y is centred (sqrt(sum w (y-ybar_w)^2 / sum w)) when an intercept is fitted
# and uncentred (sqrt(sum w y^2 / sum w)) when intercept = FALSE, because
# glmnet's Fortran 'standard' routine does not centre y without an intercept.
#
# Run from this folder:  Rscript make_reference.R

suppressPackageStartupMessages({
  library(glmnet)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
file_arg <- sub("^--file=", "", args[grep("^--file=", args)])
here <- if (length(file_arg)) dirname(normalizePath(file_arg)) else getwd()

# Stop glmnet from ending a path early (deviance-based early stopping).
glmnet.control(fdev = 0, devmax = 1, mnlam = 1)

THRESHOLDS <- c(1e-28, 1e-24, 1e-20)
MAXIT <- 1e7
NPATH <- 100

datasets <- list()
load_data <- function(file) {
  if (is.null(datasets[[file]])) {
    datasets[[file]] <<- read.csv(file.path(here, file))
  }
  datasets[[file]]
}

fit_case <- function(cs) {
  d <- load_data(cs$data)
  X <- as.matrix(d[, cs$features])
  y <- d[[cs$target]]
  p <- ncol(X)
  w <- if (is.null(cs$weight)) rep(1, nrow(X)) else d[[cs$weight]]
  wn <- w / sum(w)
  r <- cs$l1_ratio
  a <- cs$alpha

  if (cs$fit_intercept) {
    ybar <- sum(wn * y)
    sy <- sqrt(sum(wn * (y - ybar)^2))
  } else {
    sy <- sqrt(sum(wn * y^2))
  }
  k <- r + (1 - r) * sy
  alpha_g <- r / k
  lam <- a * k

  pf <- if (is.null(cs$penalty_factor)) rep(1, p) else cs$penalty_factor
  if (abs(sum(pf) - p) > 1e-12) stop("penalty factors must sum to p (glmnet rescales them)")
  lo <- if (is.null(cs$lower_bounds)) rep(-Inf, p) else cs$lower_bounds
  up <- if (is.null(cs$upper_bounds)) rep(Inf, p) else cs$upper_bounds

  lambdas <- exp(seq(log(lam * 1e4), log(lam), length.out = NPATH))
  # Tightest convergence threshold that glmnet reaches within maxit; 1e-28
  # works here (1e-32 hits maxit), the looser ones are only a fallback.
  for (thresh in THRESHOLDS) {
    fit <- suppressWarnings(
      glmnet(X, y, family = "gaussian", weights = w,
             alpha = alpha_g, lambda = lambdas,
             standardize = cs$standardize, intercept = cs$fit_intercept,
             penalty.factor = pf, lower.limits = lo, upper.limits = up,
             thresh = thresh, maxit = MAXIT))
    nl <- length(fit$lambda)
    if (fit$jerr == 0 && nl == NPATH && abs(fit$lambda[nl] - lam) <= 1e-12 * lam) break
    fit <- NULL
  }
  if (is.null(fit)) stop(sprintf("%s: glmnet did not converge", cs$name))
  cs$intercept <- unname(fit$a0[nl])
  cs$coef <- unname(as.numeric(fit$beta[, nl]))
  cs$glmnet_alpha <- alpha_g
  cs$glmnet_lambda <- lam
  cs$y_scale <- sy
  cs$glmnet_thresh <- thresh
  cat(sprintf("%-34s glmnet alpha=%.6g lambda=%.6g thresh=%g nonzero=%d/%d\n",
              cs$name, alpha_g, lam, thresh, sum(cs$coef != 0), p))
  cs
}

dia_feats <- c("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
syn_feats <- paste0("x", 0:7)

case <- function(name, data, features, alpha, l1_ratio, standardize,
                 fit_intercept = TRUE, weight = NULL, penalty_factor = NULL,
                 lower_bounds = NULL, upper_bounds = NULL) {
  list(name = name, data = data, target = "y", weight = weight,
       features = features, alpha = alpha, l1_ratio = l1_ratio,
       standardize = standardize, fit_intercept = fit_intercept,
       penalty_factor = penalty_factor,
       lower_bounds = lower_bounds, upper_bounds = upper_bounds)
}

cases <- list()
add <- function(cs) cases[[length(cases) + 1]] <<- cs

# diabetes, standardize = TRUE: (l1_ratio, alpha few nonzeros, alpha most nonzeros)
for (spec in list(c(1, 10, 0.1), c(0.5, 60, 0.3), c(0.1, 300, 1))) {
  r <- spec[1]
  for (a in spec[2:3]) {
    add(case(sprintf("diabetes_std_l1r%s_a%s", r, a), "diabetes.csv", dia_feats,
             a, r, TRUE))
  }
}
# diabetes, standardize = FALSE (features on very different raw scales)
for (spec in list(c(1, 200, 1), c(0.5, 400, 2), c(0.1, 2000, 10))) {
  r <- spec[1]
  for (a in spec[2:3]) {
    add(case(sprintf("diabetes_raw_l1r%s_a%s", r, a), "diabetes.csv", dia_feats,
             a, r, FALSE))
  }
}
# diabetes ridge
add(case("diabetes_std_ridge_a1", "diabetes.csv", dia_feats, 1, 0, TRUE))

# synthetic (weighted)
add(case("synthetic_w_std_l1r0.5", "synthetic.csv", syn_feats, 0.3, 0.5, TRUE,
         weight = "w"))
add(case("synthetic_w_std_penalty_factor", "synthetic.csv", syn_feats, 0.3, 0.5, TRUE,
         weight = "w", penalty_factor = c(1, 2, 0, 1, 1, 0.5, 1.5, 1)))
add(case("synthetic_w_std_positive", "synthetic.csv", syn_feats, 0.1, 0.5, TRUE,
         weight = "w", lower_bounds = rep(0, 8)))
add(case("synthetic_w_std_upper_x3", "synthetic.csv", syn_feats, 0.1, 0.5, TRUE,
         weight = "w", upper_bounds = c(Inf, Inf, Inf, 0.5, Inf, Inf, Inf, Inf)))
add(case("synthetic_w_raw_nointercept", "synthetic.csv", syn_feats, 0.3, 0.5, FALSE,
         fit_intercept = FALSE, weight = "w"))

results <- lapply(cases, fit_case)

# JSON: jsonlite prints at most 15 significant digits, so every number is
# first turned into its shortest round-tripping decimal (up to 17 digits),
# tagged, and unquoted after serialisation. Infinite bounds are written as the
# tokens Infinity / -Infinity, which Python's json.load reads as float('inf').
num_str <- function(v) {
  if (is.infinite(v)) return(if (v > 0) "Infinity" else "-Infinity")
  for (dg in 15:17) {
    s <- sprintf(paste0("%.", dg, "g"), v)
    if (as.numeric(s) == v) break
  }
  s
}
tag_numbers <- function(x) {
  if (is.list(x)) return(lapply(x, tag_numbers))
  if (is.numeric(x)) {
    out <- lapply(x, function(v) paste0("__NUM__", num_str(v), "__END__"))
    return(if (length(out) == 1) out[[1]] else out)
  }
  x
}
vector_fields <- c("features", "coef", "penalty_factor", "lower_bounds", "upper_bounds")
results <- lapply(results, function(cs) {
  for (f in vector_fields) {
    if (!is.null(cs[[f]])) cs[[f]] <- as.list(cs[[f]])
  }
  cs <- tag_numbers(cs)
  # keep absent options as explicit nulls
  for (f in c("weight", "penalty_factor", "lower_bounds", "upper_bounds")) {
    if (is.null(cs[[f]])) cs[f] <- list(NULL)
  }
  cs
})
txt <- toJSON(results, auto_unbox = TRUE, null = "null", pretty = TRUE)
txt <- gsub("\"__NUM__([^\"]*)__END__\"", "\\1", txt)
writeLines(txt, file.path(here, "cases.json"))
cat(sprintf("wrote %d cases to %s (glmnet %s, %s)\n", length(results),
            file.path(here, "cases.json"), packageVersion("glmnet"), R.version.string))
