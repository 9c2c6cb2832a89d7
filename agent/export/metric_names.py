"""Every Prometheus metric name the agent exports that is not a per-quantity device metric.

Per-quantity device metrics are named in :mod:`agent.devices.quantities` (``GLOSSARY[q].metric``).
Counters are named here without ``_total``; prometheus-client appends it.
"""

PREFIX = "pue"

DEVICE_UP = "pue_device_up"
DEVICE_LAST_SUCCESS = "pue_device_last_success_timestamp_seconds"
DEVICE_POLL_DURATION = "pue_device_poll_duration_seconds"
DEVICE_POLL_ERRORS = "pue_device_poll_errors"  # counter
DEVICE_POLLS_SKIPPED = "pue_device_polls_skipped"  # counter: overruns coalesced by the scheduler
DEVICE_COUNTER_EVENTS = "pue_device_counter_events"  # counter: wraps, resets, caps, glitches
DEVICE_UNREADABLE_OBJECTS = "pue_device_unreadable_objects"
DEVICE_INFO = "pue_device_info"

SITE_POWER = "pue_site_power_watts"
SITE_ENERGY = "pue_site_energy_joules"  # counter
SITE_WATER = "pue_site_water_cubic_meters"  # counter
SITE_REALTIME_PUE = "pue_site_realtime_pue"
SITE_INTERVAL_PUE = "pue_site_interval_pue"
SITE_PUE_VALID = "pue_site_pue_valid"
SITE_PUE_INVALID_INFO = "pue_site_pue_invalid_info"
SITE_COVERAGE = "pue_site_coverage_ratio"
SITE_INTERVAL_COVERAGE = "pue_site_interval_coverage_ratio"
SITE_IT_CATEGORY = "pue_site_it_measurement_category"
SITE_PUE_TARGET = "pue_site_pue_target"
SITE_EMISSION_FACTOR = "pue_site_emission_factor_kg_per_kwh"
SITE_ENERGY_METHOD_INFO = "pue_site_energy_method_info"
SITE_ENERGY_COST = "pue_site_energy_cost_cny"  # counter by tariff period: facility energy x time-of-use price
SITE_TARIFF_PRICE = "pue_site_tariff_price_cny_per_kwh"  # the price in force now, labelled with its period

BUILD_INFO = "pue_build_info"

HISTORY_PENDING_WRITES = "pue_history_pending_writes"
HISTORY_WRITE_ERRORS = "pue_history_write_errors"  # counter: failed writes, each a gap in the history
HISTORY_WRITES_DROPPED = "pue_history_writes_dropped"  # counter: dropped, too many waiting for a busy database

RECOMMENDATION_MODE_INFO = "pue_recommendation_mode_info"
RECOMMENDATION_PENDING = "pue_recommendation_pending_approval"
RECOMMENDATION_SETPOINT = "pue_recommendation_setpoint_celsius"
RECOMMENDATION_LEVER = "pue_recommendation_lever_setpoint"
RECOMMENDATION_ECONOMIZER = "pue_recommendation_economizer_enabled"
RECOMMENDATION_PREDICTED_PUE = "pue_recommendation_predicted_pue"
RECOMMENDATION_PREDICTED_POWER = "pue_recommendation_predicted_facility_power_watts"
RECOMMENDATION_SAVINGS = "pue_recommendation_predicted_savings_watts"
RECOMMENDATION_CONFIDENCE = "pue_recommendation_confidence_ratio"
RECOMMENDATION_MODEL_INFO = "pue_recommendation_model_info"
RECOMMENDATION_HELD_BACK_INFO = "pue_recommendation_held_back_info"
# realised savings of applied changes (agent/control/realised.py); per action labelled action="<id>" (last 20)
REALISED_SAVINGS = "pue_recommendation_realised_savings_watts"
REALISED_PREDICTED = "pue_recommendation_realised_savings_predicted_watts"
REALISED_UNCERTAINTY = "pue_recommendation_realised_savings_uncertainty_watts"  # one standard deviation
# sums over the actions measured today / this month (site.timezone), labelled period="day|month"
REALISED_SUM_W = "pue_recommendation_realised_savings_sum_watts"
REALISED_SUM_PREDICTED_W = "pue_recommendation_realised_savings_predicted_sum_watts"
REALISED_SUM_UNCERTAINTY_W = "pue_recommendation_realised_savings_uncertainty_sum_watts"
REALISED_KWH = "pue_recommendation_realised_savings_kwh"
REALISED_PREDICTED_KWH = "pue_recommendation_realised_savings_predicted_kwh"
REALISED_UNCERTAINTY_KWH = "pue_recommendation_realised_savings_uncertainty_kwh"
REALISED_ACTIONS = "pue_recommendation_realised_savings_actions"  # actions measured in the period
REALISED_EVALUATIONS = "pue_recommendation_realised_evaluations"  # counter by result (met, short, dropped)
REALISED_POOR_IN_A_ROW = "pue_recommendation_poor_realisations_in_a_row"
REALISED_PAUSED = "pue_recommendation_realised_paused"  # 1 while paused after poor realisations
MODEL_RETRAIN_INFO = "pue_model_retrain_info"  # the last outcome: result, reason, model version
MODEL_RETRAINS = "pue_model_retrains"  # counter by result (ok, failed)
MODEL_RETRAIN_LAST_SUCCESS = "pue_model_retrain_last_success_timestamp_seconds"
MODEL_RETRAIN_ROWS = "pue_model_retrain_rows"  # complete 15-min intervals the last successful fit used
MODEL_VALIDATION_PUE_MAE = "pue_model_validation_pue_mae"  # hold-out mean absolute error of predicted PUE
MODEL_VALIDATION_INLET_MAE = "pue_model_validation_max_inlet_mae_celsius"
MODEL_VALIDATION_COOLING_MAE = "pue_model_validation_cooling_power_mae_watts"
MODEL_SWAPS = "pue_model_swaps"  # counter by outcome (swapped, kept): champion/challenger decisions
MODEL_SWAP_INFO = "pue_model_swap_info"  # the last decision: outcome, reason, both model versions
# both models' errors on the same hold-out rows, labelled model="champion|challenger"
MODEL_HOLDOUT_POWER_MAE = "pue_model_holdout_error_facility_power_mae_watts"
MODEL_HOLDOUT_POWER_CV_RMSE = "pue_model_holdout_error_facility_power_cv_rmse_percent"
MODEL_HOLDOUT_INLET_MAE = "pue_model_holdout_error_max_inlet_mae_celsius"
MODEL_HOLDOUT_ROWS = "pue_model_holdout_rows"  # complete 15-min intervals the last decision scored both on
SETPOINT_WRITES = "pue_setpoint_writes"  # counter
SETPOINT_REVERTS = "pue_setpoint_reverts"  # counter

# shard mode (pue-agent run --shard I/N): site PUE is summed across shards in Prometheus
SHARD_ENERGY = "pue_shard_energy_joules"  # counter
SHARD_COMPLETE = "pue_shard_complete"
SHARD_COMPLETE_SECONDS = "pue_shard_complete_seconds"  # counter
SHARD_INFO = "pue_shard_info"
SHARD_COUNT = "pue_shard_count"
EXPLORATION_STEPS = "pue_exploration_steps"  # counter: lattice points explored (held long enough to learn)
EXPLORATION_SUPPORT = "pue_exploration_support_ratio"  # share of the lattice the model's support covers
EXPLORATION_VISITED = "pue_exploration_visited_ratio"  # share of the lattice visited or covered
EXPLORATION_STATE_INFO = "pue_exploration_state_info"  # exploring, holding, returning, waiting, finished...
