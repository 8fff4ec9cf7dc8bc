-- Hand-made marts for the cube tests: small enough to check every number by hand, with the traps
-- (ratio of sums vs mean of ratios, distinct customers across months, medians rolled up, censored
-- cohorts, a response across a weekend, a type-2 customer who changed segment).
create schema if not exists marts;

create table marts.dim_date as
select d::date as date_day, year(d)::int as year, quarter(d)::int as quarter,
       year(d) || '-Q' || quarter(d) as year_quarter, month(d)::int as month,
       date_trunc('month', d)::date as month_start_date, strftime(d, '%Y-%m') as year_month,
       weekofyear(d)::int as iso_week, date_trunc('week', d)::date as week_start_date,
       isodow(d)::int as day_of_week, isodow(d) >= 6 as is_weekend, false as is_holiday,
       (year(d) + case when month(d) >= 2 then 1 else 0 end)::int as fiscal_year,
       (((month(d) - 2 + 12) % 12) // 3 + 1)::int as fiscal_quarter,
       'FY' || (year(d) + case when month(d) >= 2 then 1 else 0 end) || '-Q' || (((month(d) - 2 + 12) % 12) // 3 + 1)
         as fiscal_year_quarter
from range(date '2024-01-01', date '2026-12-31', interval 1 day) t(d);

create table marts.dim_customer (customer_version_key varchar, customer_key varchar, customer_name varchar,
  customer_type varchar, segment varchar, industry varchar, size_band varchar, city varchar, country_code varchar,
  country_name varchar, region varchar, acquisition_date date, acquisition_month date, acquisition_quarter varchar,
  acquisition_channel varchar, acquisition_source varchar, primary_email varchar, valid_from timestamp,
  valid_to timestamp, is_current boolean);
insert into marts.dim_customer values
 ('c1#1','c1','Acme','company','SMB','Software','11-50','Boston','US','United States','North America',
  '2025-01-10','2025-01-01','2025-Q1','web','Web','a@acme.test','2025-01-10 08:00','2025-03-01 00:00',false),
 ('c1#2','c1','Acme','company','Mid-Market','Software','51-200','Boston','US','United States','North America',
  '2025-01-10','2025-01-01','2025-Q1','web','Web','a@acme.test','2025-03-01 00:00',null,true),
 ('c2#1','c2','Globex','company','Enterprise','Retail','1000+','Berlin','DE','Germany','EMEA',
  '2025-01-20','2025-01-01','2025-Q1','email','Referral','g@globex.test','2025-01-20 00:00',null,true),
 ('c3#1','c3','Initech','company','SMB','Finance','1-10','Paris','FR','France','EMEA',
  '2025-03-05','2025-03-01','2025-Q1','web','Web','i@initech.test','2025-03-05 00:00',null,true),
 ('c4#1','c4','Jane Doe','person','Consumer','unknown','unknown','Austin','US','United States','North America',
  '2025-04-02','2025-04-01','2025-Q2','chat','Direct','j@doe.test','2025-04-02 00:00',null,true);

create table marts.dim_channel (channel_key varchar, channel_name varchar, channel_group varchar,
  is_inbound_capable boolean, is_outbound_capable boolean, sla_first_response_seconds int, is_asynchronous boolean);
insert into marts.dim_channel values ('email','email','Digital',true,true,28800,true),
 ('phone','phone','Voice',true,true,300,false), ('chat','chat','Messaging',true,true,300,true),
 ('unknown','unknown','Other',false,false,28800,true);

create table marts.dim_owner (owner_key varchar, source_system varchar, owner_id varchar, owner_name varchar,
  team_name varchar, is_active boolean);
insert into marts.dim_owner values ('sf:1','salesforce','1','Ann','East',true), ('sf:2','salesforce','2','Bob','East',true),
 ('sf:3','salesforce','3','Cid','West',true), ('unknown','unknown','unknown','unknown','unknown',false);

create table marts.dim_campaign (campaign_key varchar, lead_source varchar, campaign_name varchar, source_group varchar);
insert into marts.dim_campaign values ('k1','Web','Spring launch','Inbound'), ('k2','Referral','Partners 2025','Partner'),
 ('unknown','unknown','unknown','unknown');

create table marts.fct_leads (lead_id varchar, source_system varchar, customer_key varchar, owner_key varchar,
  campaign_key varchar, created_at timestamp, created_date date, is_converted boolean, converted_date date,
  days_to_conversion int, converted_opportunity_id varchar, has_opportunity boolean, status varchar);
insert into marts.fct_leads values
 ('sf:L1','salesforce','c1','sf:1','k1','2025-01-05 10:00','2025-01-05',true,'2025-01-20',15,'sf:O1',true,'converted'),
 ('sf:L2','salesforce','c1','sf:1','k1','2025-01-06 10:00','2025-01-06',true,'2025-03-27',80,'sf:O2',true,'converted'),
 ('sf:L3','salesforce','c2','sf:2','k2','2025-01-15 10:00','2025-01-15',false,null,null,null,false,'open'),
 ('sf:L4','salesforce','c3','sf:3','k1','2025-02-01 10:00','2025-02-01',true,'2025-06-01',120,'sf:O4',true,'converted'),
 ('hubspot:5','hubspot','c4','sf:3','unknown','2025-02-10 10:00','2025-02-10',false,null,null,null,false,'open'),
 ('hubspot:6','hubspot','c2','sf:2','k2','2025-03-01 10:00','2025-03-01',true,'2025-03-11',10,null,false,'converted'),
 ('hubspot:7','hubspot','c1','sf:1','k1','2025-03-10 10:00','2025-03-10',false,null,null,null,false,'open');

create table marts.fct_opportunities (opportunity_id varchar, source_system varchar, customer_key varchar,
  owner_key varchar, campaign_key varchar, opportunity_name varchar, created_at timestamp, created_date date,
  close_date date, closed_date date, is_closed boolean, is_won boolean, is_lost boolean, current_stage varchar,
  current_funnel_step varchar, amount decimal(18,2), currency_code varchar, amount_reporting decimal(18,2),
  probability double, weighted_amount_reporting decimal(18,2), days_to_close int, qualified_at timestamp,
  proposal_at timestamp, negotiation_at timestamp, lead_id varchar);
-- Ann: won 1000 and 9000 lost (1 of 2 by count, 10 % by amount); Bob: won 100, lost 100;
-- mean of per-owner win rates by amount (0.1, 0.5) differs from the ratio of sums.
insert into marts.fct_opportunities values
 ('sf:O1','salesforce','c1','sf:1','k1','A1','2025-01-20 09:00','2025-01-20','2025-02-10','2025-02-10',true,true,false,'Closed Won','Closed Won',1000,'USD',1000,1.0,1000,21,null,null,null,'sf:L1'),
 ('sf:O2','salesforce','c1','sf:1','k1','A2','2025-02-05 09:00','2025-02-05','2025-03-15','2025-03-20',true,false,true,'Closed Lost','Closed Lost',9000,'USD',9000,0.0,0,43,null,null,null,'sf:L2'),
 ('sf:O3','salesforce','c2','sf:2','k2','B1','2025-02-07 09:00','2025-02-07','2025-02-20','2025-02-20',true,true,false,'Closed Won','Closed Won',100,'USD',100,1.0,100,13,null,null,null,null),
 ('sf:O4','salesforce','c3','sf:2','k1','B2','2025-03-03 09:00','2025-03-03','2025-03-30','2025-03-30',true,false,true,'Closed Lost','Closed Lost',100,'USD',100,0.0,0,27,null,null,null,'sf:L4'),
 ('sf:O5','salesforce','c2','sf:3','k2','C1','2025-03-12 09:00','2025-03-12','2025-06-30',null,false,false,false,'Proposal','Proposal',5000,'EUR',5400,0.5,2700,null,null,null,null,null),
 ('sf:O6','salesforce','c4','sf:3','unknown','C2','2025-04-01 09:00','2025-04-01','2025-07-30',null,false,false,false,'Qualification','Qualification',2000,'USD',2000,0.2,400,null,null,null,null,null),
 ('sf:O7','salesforce','c1','sf:1','k1','A3','2025-03-25 09:00','2025-03-25','2025-04-15','2025-04-15',true,true,false,'Closed Won','Closed Won',3000,'USD',3000,1.0,3000,21,null,null,null,null);

create table marts.fct_opportunity_stage_changes (stage_change_id varchar, opportunity_id varchar,
  source_system varchar, customer_key varchar, owner_key varchar, from_stage varchar, to_stage varchar,
  funnel_step varchar, step_order int, entered_at timestamp, entered_date date, exited_at timestamp,
  days_in_stage double, next_funnel_step varchar, has_advanced boolean, is_current_stage boolean);
-- O2 entered Qualification twice (went back): distinct opportunities, not rows, count for conversion.
insert into marts.fct_opportunity_stage_changes values
 ('s1','sf:O1','salesforce','c1','sf:1',null,'Prospecting','Prospecting',1,'2025-01-20 09:00','2025-01-20','2025-01-25 09:00',5,'Qualification',true,false),
 ('s2','sf:O1','salesforce','c1','sf:1','Prospecting','Qualification','Qualification',2,'2025-01-25 09:00','2025-01-25','2025-02-10 09:00',16,'Closed Won',true,false),
 ('s3','sf:O1','salesforce','c1','sf:1','Qualification','Closed Won','Closed Won',5,'2025-02-10 09:00','2025-02-10',null,null,null,false,true),
 ('s4','sf:O2','salesforce','c1','sf:1',null,'Prospecting','Prospecting',1,'2025-02-05 09:00','2025-02-05','2025-02-07 09:00',2,'Qualification',true,false),
 ('s5','sf:O2','salesforce','c1','sf:1','Prospecting','Qualification','Qualification',2,'2025-02-07 09:00','2025-02-07','2025-02-17 09:00',10,'Prospecting',false,false),
 ('s6','sf:O2','salesforce','c1','sf:1','Qualification','Prospecting','Prospecting',1,'2025-02-17 09:00','2025-02-17','2025-02-18 09:00',1,'Qualification',true,false),
 ('s7','sf:O2','salesforce','c1','sf:1','Prospecting','Qualification','Qualification',2,'2025-02-18 09:00','2025-02-18','2025-03-20 09:00',30,'Closed Lost',false,false),
 ('s8','sf:O2','salesforce','c1','sf:1','Qualification','Closed Lost','Closed Lost',6,'2025-03-20 09:00','2025-03-20',null,null,null,false,true),
 ('s9','sf:O3','salesforce','c2','sf:2',null,'Prospecting','Prospecting',1,'2025-02-07 09:00','2025-02-07','2025-02-10 09:00',3,'Proposal',true,false),
 ('s10','sf:O3','salesforce','c2','sf:2','Prospecting','Proposal','Proposal',3,'2025-02-10 09:00','2025-02-10','2025-02-20 09:00',10,'Closed Won',true,false),
 ('s11','sf:O3','salesforce','c2','sf:2','Proposal','Closed Won','Closed Won',5,'2025-02-20 09:00','2025-02-20',null,null,null,false,true),
 ('s12','sf:O5','salesforce','c2','sf:3',null,'Prospecting','Prospecting',1,'2025-03-12 09:00','2025-03-12','2025-03-19 09:00',7,'Qualification',true,false),
 ('s13','sf:O5','salesforce','c2','sf:3','Prospecting','Qualification','Qualification',2,'2025-03-19 09:00','2025-03-19','2025-04-02 09:00',14,'Proposal',true,false),
 ('s14','sf:O5','salesforce','c2','sf:3','Qualification','Proposal','Proposal',3,'2025-04-02 09:00','2025-04-02',null,null,null,false,true);

create table marts.fct_interactions (interaction_id varchar, source_system varchar, customer_key varchar,
  channel_key varchar, owner_key varchar, direction varchar, interaction_type varchar, occurred_at timestamp,
  occurred_date date, duration_seconds int, thread_id varchar, case_id varchar, is_response boolean,
  response_seconds bigint, response_business_seconds bigint, is_first_response boolean);
-- t1: email Friday 2025-03-07 16:00 answered Monday 10:00 (New York business hours 9-17): 66 h wall clock,
-- 2 business hours; t1 again answered later; t2 phone within SLA; t3 chat outside SLA; t4 email within SLA.
insert into marts.fct_interactions values
 ('cc:1','contact_center','c1','email','sf:1','inbound','email','2025-03-07 16:00','2025-03-07',null,'t1','K1',false,null,null,false),
 ('cc:2','contact_center','c1','email','sf:1','outbound','email','2025-03-10 10:00','2025-03-10',null,'t1','K1',true,237600,7200,true),
 ('cc:3','contact_center','c1','email','sf:1','inbound','email','2025-03-10 11:00','2025-03-10',null,'t1','K1',false,null,null,false),
 ('cc:4','contact_center','c1','email','sf:2','outbound','email','2025-03-10 15:00','2025-03-10',null,'t1','K1',true,14400,14400,false),
 ('cc:5','contact_center','c2','phone','sf:2','inbound','call','2025-03-11 09:00','2025-03-11',120,'t2','K2',false,null,null,false),
 ('cc:6','contact_center','c2','phone','sf:2','outbound','call','2025-03-11 09:04','2025-03-11',60,'t2','K2',true,240,240,true),
 ('cc:7','contact_center','c3','chat','sf:3','inbound','message','2025-03-12 10:00','2025-03-12',null,'t3',null,false,null,null,false),
 ('cc:8','contact_center','c3','chat','sf:3','outbound','message','2025-03-12 10:20','2025-03-12',null,'t3',null,true,1200,1200,true),
 ('cc:9','contact_center','c4','email','sf:3','inbound','email','2025-04-03 09:00','2025-04-03',null,'t4','K3',false,null,null,false),
 ('cc:10','contact_center','c4','email','sf:3','outbound','email','2025-04-03 12:00','2025-04-03',null,'t4','K3',true,10800,10800,true),
 ('cc:11','contact_center','c4','email','sf:3','outbound','note','2025-04-04 12:00','2025-04-04',null,null,null,false,null,null,false);

create table marts.fct_cases (case_id varchar, source_system varchar, customer_key varchar, channel_key varchar,
  owner_key varchar, opened_at timestamp, opened_date date, first_response_at timestamp,
  first_response_seconds bigint, first_response_business_seconds bigint, resolved_at timestamp,
  resolved_date date, resolution_seconds bigint, resolution_business_seconds bigint, is_resolved boolean,
  is_escalated boolean, reopen_count int, is_reopened boolean, satisfaction_score int, priority varchar, status varchar);
insert into marts.fct_cases values
 ('K1','contact_center','c1','email','sf:1','2025-03-07 16:00','2025-03-07','2025-03-10 10:00',237600,7200,'2025-03-12 16:00','2025-03-12',432000,36000,true,true,1,true,3,'high','closed'),
 ('K2','contact_center','c2','phone','sf:2','2025-03-11 09:00','2025-03-11','2025-03-11 09:04',240,240,'2025-03-11 10:00','2025-03-11',3600,3600,true,false,0,false,5,'low','closed'),
 ('K3','contact_center','c4','email','sf:3','2025-04-03 09:00','2025-04-03','2025-04-03 12:00',10800,10800,null,null,null,null,false,false,0,false,null,'medium','open'),
 ('K4','contact_center','c3','chat','sf:3','2025-03-12 10:00','2025-03-12',null,null,null,'2025-03-13 10:00','2025-03-13',86400,28800,true,true,0,false,4,'high','closed'),
 ('K5','contact_center','c1','phone','sf:2','2025-04-01 10:00','2025-04-01',null,null,null,'2025-04-01 11:00','2025-04-01',3600,3600,true,false,0,false,2,'low','closed');

create table marts.fct_customer_months (customer_key varchar, month_start_date date, cohort_month date,
  months_since_acquisition int, is_active boolean, revenue_reporting decimal(18,2), order_count int,
  interaction_count int, was_active_previous_month boolean, is_churned boolean,
  first_month_revenue_reporting decimal(18,2));
-- as-of month 2025-04: cohort 2025-01 (c1, c2) observed at ages 0..3, cohort 2025-03 (c3) at 0..1,
-- cohort 2025-04 (c4) at 0 only: the cells (2025-03, 2), (2025-03, 3), (2025-04, 1..3) are censored.
insert into marts.fct_customer_months values
 ('c1','2025-01-01','2025-01-01',0,true,100,1,2,false,false,100),
 ('c1','2025-02-01','2025-01-01',1,true,150,2,0,true,false,100),
 ('c1','2025-03-01','2025-01-01',2,false,0,0,3,true,true,100),
 ('c1','2025-04-01','2025-01-01',3,true,50,1,1,false,false,100),
 ('c2','2025-01-01','2025-01-01',0,true,400,1,0,false,false,400),
 ('c2','2025-02-01','2025-01-01',1,false,0,0,0,true,true,400),
 ('c2','2025-03-01','2025-01-01',2,false,0,0,1,false,false,400),
 ('c2','2025-04-01','2025-01-01',3,false,0,0,0,false,false,400),
 ('c3','2025-03-01','2025-03-01',0,true,80,1,2,false,false,80),
 ('c3','2025-04-01','2025-03-01',1,true,120,1,0,true,false,80),
 ('c4','2025-04-01','2025-04-01',0,true,30,1,2,false,false,30);

create table marts.fct_orders (order_id varchar, source_system varchar, order_type varchar, customer_key varchar,
  ordered_at timestamp, order_date date, amount decimal(18,2), currency_code varchar, amount_reporting decimal(18,2),
  margin_reporting decimal(18,2), is_refund boolean);
insert into marts.fct_orders values ('billing:1','billing','order','c1','2025-01-11 10:00','2025-01-11',100,'USD',100,40,false);

create table marts.customer_lifetime_value (customer_key varchar, as_of_date date, first_order_date date,
  last_order_date date, order_count int, purchase_occasions int, frequency int, recency double, tenure double,
  revenue_to_date_reporting decimal(18,2), margin_to_date_reporting decimal(18,2),
  average_order_value_reporting decimal(18,2), mean_repeat_occasion_value_reporting decimal(18,2),
  probability_alive double, expected_purchases_12m double, expected_average_spend_reporting double,
  predicted_value_12m_reporting double, model_status varchar);
-- c1: 4 orders for 300; c2: 1 order for 400 (mean of per-customer AOVs = (75+400)/2 != 700/5).
insert into marts.customer_lifetime_value values
 ('c1','2025-04-30','2025-01-11','2025-04-10',4,4,3,13.0,15.0,300,120,75,66.67,0.9,3.2,80.0,256.0,'fitted'),
 ('c2','2025-04-30','2025-01-20','2025-01-20',1,1,0,0.0,14.0,400,100,400,null,0.4,0.5,400.0,200.0,'fitted'),
 ('c3','2025-04-30','2025-03-05','2025-04-02',2,2,1,4.0,8.0,200,null,100,120,0.8,1.5,110.0,165.0,'fallback:few_repeaters'),
 ('c4','2025-04-30','2025-04-02','2025-04-02',1,1,0,0.0,4.0,30,10,30,null,0.7,0.6,30.0,18.0,'fitted');
