-- A store written by joulebench 0.1.0 at commit 404ad62 (schema 1), for the store upgrade test.
PRAGMA application_id = 1245868916;
PRAGMA user_version = 1;
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE experiment (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    file_name TEXT NOT NULL,
    file_text TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    seed TEXT NOT NULL,
    seed_given INTEGER NOT NULL,
    joulebench_version TEXT NOT NULL,
    created_at REAL NOT NULL
);
INSERT INTO experiment VALUES(1,'upgrade-fixture-estimate','/tmp/fixture-r9QP9b/estimate.toml',replace('[experiment]\nname = "upgrade-fixture-estimate"\nrepetitions = 2\n\n[[workload]]\nname = "busy"\ncommand = ["sh", "-c", "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done"]\n\n[[environment]]\nname = "bare"\ntype = "bare"\n','\n',char(10)),'bbfe5387ef52b6ba67e1fb5d55e0c93b353dc726a4e42c2296d1c7c2e5762cb7','4571554248240174136',0,'0.1.0',1796236488.5864419936);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    host_json TEXT NOT NULL,
    joulebench_version TEXT NOT NULL,
    command_line TEXT NOT NULL,
    shard TEXT,
    started_at REAL NOT NULL,
    ended_at REAL
);
INSERT INTO sessions VALUES(1,'{"cpu":"Intel(R) Xeon(R) Processor","cpus":2,"environments":{"bare":{}},"gpus":[],"hostname":"vm","kernel":"Linux 6.18.44-fc-v1045","machine":"x86_64"}','0.1.0','joulebench run /tmp/fixture-r9QP9b/estimate.toml --db /tmp/fixture/out/v1-estimated.db',NULL,1796236488.5876998901,1796236488.9398798942);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    plan_index INTEGER NOT NULL,
    workload TEXT NOT NULL,
    environment TEXT NOT NULL,
    gpu_cap_w REAL,
    cpu_cap_w REAL,
    repetition INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('planned', 'running', 'done', 'failed', 'timeout', 'interrupted')),
    attempt INTEGER NOT NULL DEFAULT 0,
    gpu INTEGER,
    session_id INTEGER REFERENCES sessions(id),
    started_at REAL,
    ended_at REAL,
    exit_code INTEGER,
    signal INTEGER,
    wall_s REAL,
    cpu_user_s REAL,
    cpu_system_s REAL,
    energy_j REAL,
    gpu_energy_j REAL,
    cpu_energy_j REAL,
    edp_js REAL,
    ed2p_js2 REAL,
    total_includes_estimate INTEGER,
    idle_power_w REAL,
    net_energy_j REAL,
    caps_json TEXT NOT NULL DEFAULT '[]',
    warnings_json TEXT NOT NULL DEFAULT '[]',
    phases_json TEXT NOT NULL DEFAULT '[]',
    stderr_tail TEXT NOT NULL DEFAULT '',
    metrics_json TEXT,
    measure_json TEXT
);
INSERT INTO runs VALUES('9717d8c2287bbaad',0,'busy','bare',NULL,NULL,1,'done',1,NULL,1,1796236488.5911021232,1796236488.7650425433,0,NULL,0.17394037900000000607,0.14798500000000000542,0.0052359999999999993353,41.389892500000001972,34.878000000000000113,6.5118925000000000835,7.199373588219257769,1.2522617704974476904,1,NULL,NULL,'[]','["CPU energy is estimated from this run''s CPU time, not measured"]','[]','',NULL,'{"schema_version":1,"joulebench_version":"0.1.0","command":["sh","-c","i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done"],"exit_code":0,"signal":null,"started_at":1796236488.5911021,"wall_s":0.173940379,"cpu_user_s":0.147985,"cpu_system_s":0.005235999999999999,"domains":[{"id":"gpu0","kind":"gpu","index":0,"name":"NVIDIA A100-SXM4-40GB","backend":"nvml","energy_j":17.438000000000002,"avg_power_w":100.0078879945606,"peak_power_w":100.27952606230475,"method":"counter","counts_in_total":true,"wraps":0,"resets":0,"failed_reads":0,"update_period_ms":100.0,"wrap_range_j":null,"cross_check_energy_j":null,"disagreement_pct":null},{"id":"gpu1","kind":"gpu","index":1,"name":"NVIDIA A100-SXM4-40GB","backend":"nvml","energy_j":17.44,"avg_power_w":100.00075057902815,"peak_power_w":100.05537330239964,"method":"counter","counts_in_total":true,"wraps":0,"resets":0,"failed_reads":0,"update_period_ms":100.0,"wrap_range_j":null,"cross_check_energy_j":null,"disagreement_pct":null},{"id":"cpu-estimated","kind":"estimated-cpu","index":-1,"name":"Intel(R) Xeon(R) Processor","backend":"estimate","energy_j":6.5118925,"avg_power_w":37.338758207767356,"peak_power_w":69.0535415660838,"method":"estimated","counts_in_total":true,"wraps":0,"resets":0,"failed_reads":0,"update_period_ms":10.0,"wrap_range_j":null,"cross_check_energy_j":null,"disagreement_pct":null}],"gpus":[{"index":0,"id":"gpu0","name":"NVIDIA A100-SXM4-40GB","uuid":"GPU-fa4e0000-0000-4000-8000-000000000000","pci_bus_id":"00000000:17:00.0","mean_utilisation_pct":0.0,"max_utilisation_pct":0,"max_temperature_c":45.0,"mean_sm_clock_mhz":1410.0,"throttle_reasons":[],"enforced_limit_w":400.0},{"index":1,"id":"gpu1","name":"NVIDIA A100-SXM4-40GB","uuid":"GPU-fa4e0000-0000-4000-8000-000000000001","pci_bus_id":"00000000:27:00.0","mean_utilisation_pct":0.0,"max_utilisation_pct":0,"max_temperature_c":45.0,"mean_sm_clock_mhz":1410.0,"throttle_reasons":[],"enforced_limit_w":400.0}],"power_caps":[],"total_energy_j":41.3898925,"total_includes_estimate":true,"edp_js":7.199373588219258,"ed2p_js2":1.2522617704974477,"idle":null,"estimate":{"cpu_model":"Intel(R) Xeon(R) Processor","tdp_w":85.0,"threads_per_package":2,"watts_per_cpu":42.5,"tdp_source":"default"},"warnings":["CPU energy is estimated from this run''s CPU time, not measured"],"samples":10,"polls":10,"interval_ms":20.0,"poll_interval_ms":20.0,"late_ticks":0,"monitor_cpu_s":0.000914,"monitor_overhead_pct":0.5254674074270012}');
INSERT INTO runs VALUES('fe23518c756c1e5b',1,'busy','bare',NULL,NULL,2,'done',1,NULL,1,1796236488.7696125507,1796236488.9374899864,0,NULL,0.16787746200000000507,0.12909499999999998753,0.0082599999999999999811,39.457587499999995372,33.619999999999997442,5.837587499999998819,6.624039646142924731,1.112026963981852301,1,NULL,NULL,'[]','["CPU energy is estimated from this run''s CPU time, not measured"]','[]','',NULL,'{"schema_version":1,"joulebench_version":"0.1.0","command":["sh","-c","i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done"],"exit_code":0,"signal":null,"started_at":1796236488.7696126,"wall_s":0.167877462,"cpu_user_s":0.129095,"cpu_system_s":0.00826,"domains":[{"id":"gpu0","kind":"gpu","index":0,"name":"NVIDIA A100-SXM4-40GB","backend":"nvml","energy_j":16.81,"avg_power_w":99.99805595688954,"peak_power_w":100.04668177169496,"method":"counter","counts_in_total":true,"wraps":0,"resets":0,"failed_reads":0,"update_period_ms":100.0,"wrap_range_j":null,"cross_check_energy_j":null,"disagreement_pct":null},{"id":"gpu1","kind":"gpu","index":1,"name":"NVIDIA A100-SXM4-40GB","backend":"nvml","energy_j":16.81,"avg_power_w":100.00046282189217,"peak_power_w":100.03374694312745,"method":"counter","counts_in_total":true,"wraps":0,"resets":0,"failed_reads":0,"update_period_ms":100.0,"wrap_range_j":null,"cross_check_energy_j":null,"disagreement_pct":null},{"id":"cpu-estimated","kind":"estimated-cpu","index":-1,"name":"Intel(R) Xeon(R) Processor","backend":"estimate","energy_j":5.837587499999999,"avg_power_w":30.339402252858854,"peak_power_w":43.00588032050409,"method":"estimated","counts_in_total":true,"wraps":0,"resets":0,"failed_reads":0,"update_period_ms":10.0,"wrap_range_j":null,"cross_check_energy_j":null,"disagreement_pct":null}],"gpus":[{"index":0,"id":"gpu0","name":"NVIDIA A100-SXM4-40GB","uuid":"GPU-fa4e0000-0000-4000-8000-000000000000","pci_bus_id":"00000000:17:00.0","mean_utilisation_pct":0.0,"max_utilisation_pct":0,"max_temperature_c":45.0,"mean_sm_clock_mhz":1410.0,"throttle_reasons":[],"enforced_limit_w":400.0},{"index":1,"id":"gpu1","name":"NVIDIA A100-SXM4-40GB","uuid":"GPU-fa4e0000-0000-4000-8000-000000000001","pci_bus_id":"00000000:27:00.0","mean_utilisation_pct":0.0,"max_utilisation_pct":0,"max_temperature_c":45.0,"mean_sm_clock_mhz":1410.0,"throttle_reasons":[],"enforced_limit_w":400.0}],"power_caps":[],"total_energy_j":39.457587499999995,"total_includes_estimate":true,"edp_js":6.624039646142925,"ed2p_js2":1.1120269639818523,"idle":null,"estimate":{"cpu_model":"Intel(R) Xeon(R) Processor","tdp_w":85.0,"threads_per_package":2,"watts_per_cpu":42.5,"tdp_source":"default"},"warnings":["CPU energy is estimated from this run''s CPU time, not measured"],"samples":10,"polls":10,"interval_ms":20.0,"poll_interval_ms":20.0,"late_ticks":0,"monitor_cpu_s":0.0006309999999999999,"monitor_overhead_pct":0.3758693945468391}');
CREATE TABLE run_domains (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    domain_index INTEGER NOT NULL,
    domain TEXT NOT NULL,
    kind TEXT NOT NULL,
    device_index INTEGER,
    method TEXT NOT NULL,
    backend TEXT NOT NULL,
    name TEXT NOT NULL,
    energy_j REAL NOT NULL,
    avg_power_w REAL NOT NULL,
    peak_power_w REAL,
    counts_in_total INTEGER NOT NULL,
    cross_check_energy_j REAL,
    disagreement_pct REAL,
    idle_power_w REAL,
    net_energy_j REAL,
    failed_reads INTEGER NOT NULL,
    wraps INTEGER NOT NULL,
    resets INTEGER NOT NULL,
    PRIMARY KEY (run_id, domain_index)
);
INSERT INTO run_domains VALUES('9717d8c2287bbaad',0,'gpu0','gpu',0,'counter','nvml','NVIDIA A100-SXM4-40GB',17.438000000000002387,100.00788799456060473,100.27952606230475395,1,NULL,NULL,NULL,NULL,0,0,0);
INSERT INTO run_domains VALUES('9717d8c2287bbaad',1,'gpu1','gpu',1,'counter','nvml','NVIDIA A100-SXM4-40GB',17.440000000000001278,100.00075057902814989,100.05537330239964433,1,NULL,NULL,NULL,NULL,0,0,0);
INSERT INTO run_domains VALUES('9717d8c2287bbaad',2,'cpu-estimated','estimated-cpu',NULL,'estimated','estimate','Intel(R) Xeon(R) Processor',6.5118925000000000835,37.338758207767355657,69.053541566083794121,1,NULL,NULL,NULL,NULL,0,0,0);
INSERT INTO run_domains VALUES('fe23518c756c1e5b',0,'gpu0','gpu',0,'counter','nvml','NVIDIA A100-SXM4-40GB',16.809999999999998721,99.998055956889544404,100.04668177169496345,1,NULL,NULL,NULL,NULL,0,0,0);
INSERT INTO run_domains VALUES('fe23518c756c1e5b',1,'gpu1','gpu',1,'counter','nvml','NVIDIA A100-SXM4-40GB',16.809999999999998721,100.00046282189217095,100.03374694312745418,1,NULL,NULL,NULL,NULL,0,0,0);
INSERT INTO run_domains VALUES('fe23518c756c1e5b',2,'cpu-estimated','estimated-cpu',NULL,'estimated','estimate','Intel(R) Xeon(R) Processor',5.837587499999998819,30.339402252858853614,43.005880320504090265,1,NULL,NULL,NULL,NULL,0,0,0);
CREATE TABLE run_attempts (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    session_id INTEGER REFERENCES sessions(id),
    status TEXT NOT NULL,
    gpu INTEGER,
    started_at REAL,
    ended_at REAL,
    exit_code INTEGER,
    signal INTEGER,
    energy_j REAL,
    stderr_tail TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, attempt)
);
INSERT INTO run_attempts VALUES('9717d8c2287bbaad',1,1,'done',NULL,1796236488.5911021232,1796236488.7650425433,0,NULL,41.389892500000001972,'');
INSERT INTO run_attempts VALUES('fe23518c756c1e5b',1,1,'done',NULL,1796236488.7696125507,1796236488.9374899864,0,NULL,39.457587499999995372,'');
CREATE TABLE trace_columns (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    column_index INTEGER NOT NULL,
    domain TEXT NOT NULL,
    quantity TEXT NOT NULL,
    PRIMARY KEY (run_id, column_index)
);
INSERT INTO trace_columns VALUES('9717d8c2287bbaad',0,'gpu0','energy_j');
INSERT INTO trace_columns VALUES('9717d8c2287bbaad',1,'gpu0','power_w');
INSERT INTO trace_columns VALUES('9717d8c2287bbaad',2,'gpu1','energy_j');
INSERT INTO trace_columns VALUES('9717d8c2287bbaad',3,'gpu1','power_w');
INSERT INTO trace_columns VALUES('9717d8c2287bbaad',4,'cpu-estimated','energy_j');
INSERT INTO trace_columns VALUES('9717d8c2287bbaad',5,'cpu-estimated','power_w');
INSERT INTO trace_columns VALUES('9717d8c2287bbaad',6,'gpu0','utilisation_pct');
INSERT INTO trace_columns VALUES('9717d8c2287bbaad',7,'gpu0','temperature_c');
INSERT INTO trace_columns VALUES('9717d8c2287bbaad',8,'gpu0','sm_clock_mhz');
INSERT INTO trace_columns VALUES('9717d8c2287bbaad',9,'gpu0','throttle_reasons');
INSERT INTO trace_columns VALUES('9717d8c2287bbaad',10,'gpu0','enforced_limit_w');
INSERT INTO trace_columns VALUES('9717d8c2287bbaad',11,'gpu1','utilisation_pct');
INSERT INTO trace_columns VALUES('9717d8c2287bbaad',12,'gpu1','temperature_c');
INSERT INTO trace_columns VALUES('9717d8c2287bbaad',13,'gpu1','sm_clock_mhz');
INSERT INTO trace_columns VALUES('9717d8c2287bbaad',14,'gpu1','throttle_reasons');
INSERT INTO trace_columns VALUES('9717d8c2287bbaad',15,'gpu1','enforced_limit_w');
INSERT INTO trace_columns VALUES('fe23518c756c1e5b',0,'gpu0','energy_j');
INSERT INTO trace_columns VALUES('fe23518c756c1e5b',1,'gpu0','power_w');
INSERT INTO trace_columns VALUES('fe23518c756c1e5b',2,'gpu1','energy_j');
INSERT INTO trace_columns VALUES('fe23518c756c1e5b',3,'gpu1','power_w');
INSERT INTO trace_columns VALUES('fe23518c756c1e5b',4,'cpu-estimated','energy_j');
INSERT INTO trace_columns VALUES('fe23518c756c1e5b',5,'cpu-estimated','power_w');
INSERT INTO trace_columns VALUES('fe23518c756c1e5b',6,'gpu0','utilisation_pct');
INSERT INTO trace_columns VALUES('fe23518c756c1e5b',7,'gpu0','temperature_c');
INSERT INTO trace_columns VALUES('fe23518c756c1e5b',8,'gpu0','sm_clock_mhz');
INSERT INTO trace_columns VALUES('fe23518c756c1e5b',9,'gpu0','throttle_reasons');
INSERT INTO trace_columns VALUES('fe23518c756c1e5b',10,'gpu0','enforced_limit_w');
INSERT INTO trace_columns VALUES('fe23518c756c1e5b',11,'gpu1','utilisation_pct');
INSERT INTO trace_columns VALUES('fe23518c756c1e5b',12,'gpu1','temperature_c');
INSERT INTO trace_columns VALUES('fe23518c756c1e5b',13,'gpu1','sm_clock_mhz');
INSERT INTO trace_columns VALUES('fe23518c756c1e5b',14,'gpu1','throttle_reasons');
INSERT INTO trace_columns VALUES('fe23518c756c1e5b',15,'gpu1','enforced_limit_w');
CREATE TABLE trace_chunks (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    chunk INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_id, chunk)
);
INSERT INTO trace_chunks VALUES('9717d8c2287bbaad',0,10,X'00000000000000000000000000000000000000000000f87f0000000000000000000000000000f87f0000000000000000000000000000f87f0000000000000000000000000080464000000000000896400000000000000000000000000000794000000000000000000000000000804640000000000008964000000000000000000000000000007940adf561978a88943f4a0c022b87160040a1fe47c1e31159404a0c022b87160040c0de01f3c7ff5840333333333333db3fe61b5fa5b42135400000000000000000000000000080464000000000000896400000000000000000000000000000794000000000000000000000000000804640000000000008964000000000000000000000000000007940bb757d6d9d82a43f0ad7a3703d0a10406f05e12ddbf058400ad7a3703d0a10400d6cac2736ff5840666666666666f43f54aa00806e4145400000000000000000000000000080464000000000000896400000000000000000000000000000794000000000000000000000000000804640000000000008964000000000000000000000000000007940a617ddc323c6ae3f40355eba490c1840bf8efe301c01594040355eba490c184031b986cc28015940333333333333fb3fdffb9484c23b354000000000000000000000000000804640000000000008964000000000000000000000000000007940000000000000000000000000008046400000000000089640000000000000000000000000000079405549399f0765b63fa8c64b3789812140223c055bf1ff58401a2fdd2406812140ad9c9b0827fe5840cdcccccccccc07407d3d1f91934247400000000000000000000000000080464000000000000896400000000000000000000000000000794000000000000000000000000000804640000000000008964000000000000000000000000000007940b2c4da4a75a2b93f47e17a14ae072440b6363a1b5000594047e17a14ae0724405a179857d5025940cdcccccccccc074000000000000000000000000000000000000000000080464000000000000896400000000000000000000000000000794000000000000000000000000000804640000000000008964000000000000000000000000000007940337442a1cbbfbe3f2db29defa7062840f992c3f84e0059402db29defa7062840cd44ae3cbeff58409999999999990e40ef00da0e7d4545400000000000000000000000000080464000000000000896400000000000000000000000000000794000000000000000000000000000804640000000000008964000000000000000000000000000007940053eeb8c82efc13fba490c022b072c408c51cdb6b0005940ba490c022b072c405469c935280159403333333333b312405795b508543e45400000000000000000000000000080464000000000000896400000000000000000000000000000794000000000000000000000000000804640000000000008964000000000000000000000000000007940050466caf67dc43f8a4160e5d00230409def27c02dff5840c3f5285c8f0230405e90c2b192fd58409a99999999191640f2b9585cab48454000000000000000000000000000804640000000000008964000000000000000000000000000007940000000000000000000000000008046400000000000089640000000000000000000000000000079404753cb439751c63fe4a59bc42070314066144a6851005940713d0ad7a370314031b8763c8b0359404e452a8c2d0c1a409ed39a396d4351400000000000000000000000000080464000000000000896400000000000000000000000000000794000000000000000000000000000804640000000000008964000000000000000000000000000007940');
INSERT INTO trace_chunks VALUES('fe23518c756c1e5b',0,10,X'00000000000000000000000000000000000000000000f87f0000000000000000000000000000f87f0000000000000000000000000000f87f00000000000000000000000000804640000000000008964000000000000000000000000000007940000000000000000000000000008046400000000000089640000000000000000000000000000079404a88105c8798943f500c022b871600405f70e1ae67fe5840806abc74931800404a3aecabc80059400000000000000000000000000000000000000000000000000000000000804640000000000008964000000000000000000000000000007940000000000000000000000000008046400000000000089640000000000000000000000000000079400c51f5938084a43fd878e92631081040f3af8ad5fc025940d478e92631081040e94cc554f1fe5840303333333333eb3ff01fcd56bf49454000000000000000000000000000804640000000000008964000000000000000000000000000007940000000000000000000000000008046400000000000089640000000000000000000000000000079403db4345c89e5ae3fa4703d0ad7231840b86cfecb8dff5840a4703d0ad72318407f3757059cff5840303333333333fb3f24f3f7c65cf744400000000000000000000000000080464000000000000896400000000000000000000000000000794000000000000000000000000000804640000000000008964000000000000000000000000000007940839ae7a98a80b43ff853e3a59b04204005d90ab978ff5840a01a2fdd240620403646abf9ad0159406466666666660440a620b4afc08045400000000000000000000000000080464000000000000896400000000000000000000000000000794000000000000000000000000000804640000000000008964000000000000000000000000000007940078bb3b7ce9eb93f6cbc7493180424400fef991917ff5840f853e3a59b042440ab61d53f91ff5840cccccccccccc07406579e3dadb473540000000000000000000000000008046400000000000089640000000000000000000000000000079400000000000000000000000000080464000000000000896400000000000000000000000000000794029e8afbd3ababe3fa8c64b3789012840ba56384f18005940345eba490c0228408bfd6d8eb80059409899999999990e402c37a2da1d4e45400000000000000000000000000080464000000000000896400000000000000000000000000000794000000000000000000000000000804640000000000008964000000000000000000000000000007940477a494a17eec13f6abc749318042c405e0fd248810059406abc749318042c400022b2db82fe58403233333333b312402fee37d92f34454000000000000000000000000000804640000000000008964000000000000000000000000000007940000000000000000000000000008046400000000000089640000000000000000000000000000079406c03aa91f384c43f0f2db29def073040e570d47b1a0059400f2db29def07304023b3c4d19eff5840666666666666144031a55c90c60135400000000000000000000000000080464000000000000896400000000000000000000000000000794000000000000000000000000000804640000000000008964000000000000000000000000000007940ccf721a96484c53f8fc2f5285ccf304024932ea1cdfc58408fc2f5285ccf3040a244f0e828025940666666666666144000000000000000000000000000000000000000000080464000000000000896400000000000000000000000000000794000000000000000000000000000804640000000000008964000000000000000000000000000007940');
CREATE TABLE idle_baselines (
    id INTEGER PRIMARY KEY,
    session_id INTEGER REFERENCES sessions(id),
    domain TEXT NOT NULL,
    started_at REAL NOT NULL,
    duration_s REAL NOT NULL,
    power_w REAL NOT NULL,
    temperature_c REAL,
    context TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_by_status ON runs(status, plan_index);
COMMIT;
