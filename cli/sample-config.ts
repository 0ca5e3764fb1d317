/** The commented configuration `coldchain init` writes: a demo site a newcomer can run at once. */
export const SAMPLE_CONFIG = `# Cold-chain telemetry service configuration.
# Validated on every start: an error names the line and the key. Reloaded when it changes.
# Durations are written like 30s, 5m, 2h, 1830d.

# Spool, managed InfluxDB and logs live here (relative to this file).
dataDir: ./data

mqtt:
  host: 0.0.0.0
  port: 1883            # 0 picks a free port (logged at start)
  # tls: { port: 8883, cert: ./certs/server.crt, key: ./certs/server.key }
  # websocket: { port: 8083, path: /mqtt }
  maxPacketBytes: 4194304   # larger packets close the connection before they are buffered
  ratePerDevice: 50         # messages/s sustained per device; bursts above are delayed, not dropped
  rateBurst: 500

http:
  host: 127.0.0.1       # plain HTTP, for this machine only (passwords and tokens travel in clear)
  port: 8080
  # HTTPS for other machines: coldchain init wrote a self-signed certificate under dataDir/tls
  # (replace it with your own; clients trust it with curl --cacert data/tls/http.crt):
  # host: 0.0.0.0
  # tls: { cert: ./data/tls/http.crt, key: ./data/tls/http.key }
  # allowPlainHttp: true   # plain HTTP on a non-loopback address: only behind a TLS-terminating proxy
  # publicUrl: https://coldchain.example.com   # how receivers reach verification links (QR codes on reports)

# The live board at http://127.0.0.1:8080/ (https://<host>:8080/ with tls). Map tiles for the fleet view (without: a blank map):
# board: { tileUrl: "https://tile.openstreetmap.org/{z}/{x}/{y}.png", tileAttribution: "© OpenStreetMap" }

# QA reports: the time zone times are shown in, and the default label language (en or zh-CN).
reports:
  timeZone: UTC
  lang: en
  # Reports are built in worker threads (default: half the cores, at most 4); beyond them, queue
  # requests wait and the rest get 429 with Retry-After. A report reads at most maxRows readings.
  # workers: 1
  # queue: 2
  # maxRows: 2000000
  # timeout: 2m

influx:
  # Leave url out to let the service run its own influxd (Debian package "influxdb") under dataDir.
  # url: http://127.0.0.1:8086
  database: coldchain
  # token: set COLDCHAIN_INFLUX_TOKEN instead of writing it here (InfluxDB 2.x/3.x v1 API)
  retention: 1830d          # GSP: keep records at least 5 years

ingest:
  maxPayloadBytes: 262144   # larger payloads are quarantined as payload_too_large
  maxBatchReadings: 5000
  maxFutureSkew: 5m         # device clocks further ahead are rejected
  maxPastAge: 30d           # store-and-forward backlog accepted up to this age

# How alarms reach people: e-mail over SMTP, webhooks per recipient (sites[].recipients).
notifications:
  # smtp: { host: smtp.example.com, port: 587, user: alerts, password: "...", from: "coldchain <alerts@example.com>" }
  # SMS through the provider's own API; the secret comes from the environment variable secretEnv:
  # sms: { provider: aliyun, accessKeyId: LTAI..., signName: 冷链监控, templateCode: SMS_123456, secretEnv: COLDCHAIN_SMS_SECRET }
  # sms: { provider: twilio, accountSid: AC..., from: "+15005550006", secretEnv: COLDCHAIN_SMS_SECRET }
  tierDelays: [0s, 15m, 30m]   # tier n is told if nobody acknowledged this long after the alarm
  reminderEvery: 30m

# compliance: gsp   # refuse to start unless every site's first tier reaches at least 3 people by SMS (GSP annex)

# The daily backup (GSP): every InfluxDB point, the spool, audit trail, keys and this file, with a
# SHA-256 manifest, at a local time (reports.timeZone); the newest are kept. Restore: coldchain restore.
backup:
  enabled: true
  dir: ./backups          # put it on another disk or a mounted share
  at: "02:30"
  keep: 14

# Alarm management (ISA-18.2). Who is woken by what: page = escalation tiers and reminders,
# board = the live board's alarm list and banner only, digest = the daily summary e-mail.
alarms:
  notify: { critical: page, major: page, minor: board, warning: board, info: digest }
  digestAt: "08:00"        # local time (reports.timeZone)
  foldWindow: 30m          # a rule breaking again this soon continues its alert (counted, not a new one)
  chatterCount: 3          # that many activations within the fold window: flagged chattering
  incidentMerge: 30m       # one incident per place while its alerts keep coming within this
  maxShelve: 24h           # shelving is signed, audited and expires by itself
  # What to do, per kind of alarm (defaults exist for every kind), in English and Chinese:
  # procedures:
  #   temperature_high: { en: "Check the door and the cooling unit; call maintenance on 1234.", zh-CN: "检查门和制冷机组；致电维修 1234。" }

# Product profiles: the ranges goods must stay in. Alert rules (all optional, defaults shown):
#   alerts: { warningBand: 0.5, activationDelay: 10m, clearHysteresis: 0.3,
#             cumulative: { budget: 60m, window: 24h }, doorOpenMax: 5m,
#             silentAfterIntervals: 3, lowBattery: 20,
#             maxRatePerHour: 10 }   # rate of change: off unless set (see alerts/README.md)
# A location may override them (alerts: {...}) and suppress rules daily, e.g. during defrost:
#   suppress: [{ reason: defrost, from: "02:00", to: "02:30", utcOffset: "+08:00" }]
profiles:
  - id: vaccines-2-8
    name: Vaccines and biologics (2–8 °C)
    temperature: { min: 2, max: 8 }
    humidity: { min: 35, max: 75 }
    # The product's stability data: one budget per batch across storage and every transport leg
    # (coldchain batch stability LOT; see stability/README.md):
    # stability:
    #   allowances:
    #     - { id: up-to-25, name: "8–25 °C", from: 8, to: 25, allowance: 72h }
    #   freeze: { below: 0, maxEvents: 0 }
    #   alertBelow: 20
  - id: frozen-medicine
    name: Frozen medicines (−25…−15 °C)
    temperature: { min: -25, max: -15 }
  - id: room-temperature
    name: Controlled room temperature (15–25 °C)
    temperature: { min: 15, max: 25 }
    humidity: { min: 35, max: 75 }

sites:
  - id: dc-shanghai
    name: Shanghai distribution centre
    kind: warehouse
    # Who hears of alarms, by escalation tier (GSP: at least 3 designated people):
    # recipients:
    #   - { name: Duty phone, tier: 1, phone: "+8613800138000" }
    #   - { name: Warehouse lead, tier: 1, email: lead@example.com }
    #   - { name: QA manager, tier: 2, email: qa@example.com }
    locations:
      - { id: dc-sh-cold-room-1, name: Cold room 1, kind: cold_room, profile: vaccines-2-8, areaM2: 120 }
      # The freezer's controller defrosts at 02:00, 08:00, 14:00 and 20:00 local time; the air
      # rises above −15 °C for a while and pulls back down. Those windows raise no excursion alarm
      # (the readings are still recorded and reported).
      - id: dc-sh-freezer-1
        name: Freezer 1
        kind: freezer
        profile: frozen-medicine
        areaM2: 40
        suppress:
          - { reason: defrost, from: "02:00", to: "03:00", utcOffset: "+08:00" }
          - { reason: defrost, from: "08:00", to: "09:00", utcOffset: "+08:00" }
          - { reason: defrost, from: "14:00", to: "15:00", utcOffset: "+08:00" }
          - { reason: defrost, from: "20:00", to: "21:00", utcOffset: "+08:00" }
      - { id: dc-sh-ambient-a, name: Ambient zone A, kind: ambient_zone, profile: room-temperature, areaM2: 600 }
  - id: truck-hu-a12345
    name: Reefer truck 沪A12345
    kind: vehicle
    vehicleType: refrigerated truck
    plate: 沪A12345
    locations:
      - { id: truck-hu-a12345-box, name: Cargo box, kind: vehicle_compartment, profile: vaccines-2-8, volumeM3: 30 }
  # A receiver that monitors its own store with us: the last leg of a full-chain (全程冷链) record.
  - id: hospital-pudong
    name: Pudong hospital pharmacy
    kind: warehouse
    locations:
      - { id: hospital-pudong-fridge, name: Pharmacy vaccine fridge, kind: cold_room, profile: vaccines-2-8, areaM2: 4 }

# Devices are added with: coldchain device add ID --location LOCATION [--interval 60s]
# Only a hash of each device token is stored here.
devices: []

# HTTP API tokens are added with: coldchain token create --role admin|operator|qa|viewer
apiTokens: []

# People who acknowledge and sign: coldchain user add NAME --role operator|qa|admin --full-name "..."
users: []
`;
