-- Demo source for open-orders-sync: the SAP open-order items and the reporting view the
-- sync reads. Runs unchanged on SQL Server 2022 (sqlcmd, SSMS, or split on GO lines) and on
-- the project's emulator. Idempotent: every object is dropped if it exists, then created.
-- The database itself is assumed to exist.
USE ProcessStatus;
GO

-- IF OBJECT_ID rather than DROP ... IF EXISTS: it also runs on SQL Server before 2016.
IF OBJECT_ID(N'dbo.vwZSDOrder_Advanced', N'V') IS NOT NULL
    DROP VIEW dbo.vwZSDOrder_Advanced;
GO

IF OBJECT_ID(N'dbo.ZSDOrderItem', N'U') IS NOT NULL
    DROP TABLE dbo.ZSDOrderItem;
GO

-- One row per sales-order item, as SAP replicates it: text fields keep SAP's raw encodings
-- (leading-zero numbers, DATS/TIMS text, 'X' flags, NUMC priorities).
-- Deliberately permissive: no primary key, no NOT NULL, no CHECK. A real SAP-fed source can
-- deliver NULL keys, duplicate keys and malformed raw values, and the sync's failure tests
-- must be able to inject exactly that here.
CREATE TABLE dbo.ZSDOrderItem (
    SalesDocument            nvarchar(10)   NULL,  -- VBELN
    SalesDocumentItem        nvarchar(6)    NULL,  -- POSNR
    SalesDocumentType        nvarchar(4)    NULL,  -- AUART
    SalesOrganization        nvarchar(4)    NULL,  -- VKORG
    DistributionChannel      nvarchar(2)    NULL,  -- VTWEG
    Division                 nvarchar(2)    NULL,  -- SPART
    SalesOffice              nvarchar(4)    NULL,  -- VKBUR
    SalesGroup               nvarchar(3)    NULL,  -- VKGRP
    SoldToParty              nvarchar(10)   NULL,  -- KUNNR (AG)
    SoldToName               nvarchar(80)   NULL,
    ShipToParty              nvarchar(10)   NULL,  -- KUNNR (WE)
    ShipToName               nvarchar(80)   NULL,
    ShipToCity               nvarchar(40)   NULL,
    ShipToRegion             nvarchar(3)    NULL,
    ShipToCountry            nchar(3)       NULL,  -- fixed width: SQL Server pads 'DE' to 'DE '
    CustomerPurchaseOrder    nvarchar(35)   NULL,  -- BSTKD
    CustomerPODate           nvarchar(8)    NULL,  -- BSTDK, DATS
    OrderCreatedOn           date           NULL,  -- ERDAT
    OrderCreatedAt           nvarchar(6)    NULL,  -- ERZET, TIMS
    OrderCreatedBy           nvarchar(12)   NULL,  -- ERNAM
    RequestedDeliveryDate    nvarchar(8)    NULL,  -- VDATU, DATS
    ScheduleLineDate         datetime       NULL,  -- EDATU, kept as a legacy datetime
    MaterialAvailabilityDate nvarchar(8)    NULL,  -- MBDAT, DATS
    PlannedGoodsIssueDate    date           NULL,  -- WADAT
    Material                 nvarchar(40)   NULL,  -- MATNR
    MaterialDescription      nvarchar(40)   NULL,  -- ARKTX
    MaterialGroup            nvarchar(9)    NULL,  -- MATKL
    CustomerMaterial         nvarchar(35)   NULL,  -- KDMAT
    Plant                    nvarchar(4)    NULL,  -- WERKS
    StorageLocation          nvarchar(4)    NULL,  -- LGORT
    ShippingPoint            nvarchar(4)    NULL,  -- VSTEL
    Route                    nvarchar(6)    NULL,  -- ROUTE
    ItemCategory             nvarchar(4)    NULL,  -- PSTYV
    OrderQuantity            decimal(15,3)  NULL,  -- KWMENG
    ConfirmedQuantity        decimal(15,3)  NULL,  -- BMENG
    DeliveredQuantity        decimal(15,3)  NULL,
    OpenQuantity             decimal(15,3)  NULL,  -- negative after over-delivery
    SalesUnit                nvarchar(3)    NULL,  -- VRKME
    BaseUnit                 nvarchar(3)    NULL,  -- MEINS
    NetPrice                 decimal(11,2)  NULL,  -- NETPR
    PriceUnit                decimal(5,0)   NULL,  -- KPEIN is DEC 5 in SAP; the view exposes int
    NetValue                 decimal(15,2)  NULL,  -- NETWR
    OpenValue                decimal(15,2)  NULL,
    TaxAmount                decimal(13,2)  NULL,  -- MWSBP
    Currency                 nvarchar(5)    NULL,  -- WAERK
    ExchangeRate             decimal(9,5)   NULL,  -- KURSK
    GrossWeight              decimal(15,3)  NULL,  -- BRGEW
    NetWeight                decimal(15,3)  NULL,  -- NTGEW
    WeightUnit               nvarchar(3)    NULL,  -- GEWEI
    Volume                   decimal(15,3)  NULL,  -- VOLUM
    VolumeUnit               nvarchar(3)    NULL,  -- VOLEH
    DeliveryPriority         nvarchar(2)    NULL,  -- LPRIO, NUMC
    Incoterms                nvarchar(3)    NULL,  -- INCO1
    IncotermsLocation        nvarchar(28)   NULL,  -- INCO2
    PaymentTerms             nvarchar(4)    NULL,  -- ZTERM
    OverallStatus            nchar(1)       NULL,  -- GBSTK
    DeliveryStatus           nchar(1)       NULL,  -- LFSTA
    CreditStatus             nchar(1)       NULL,  -- CMGST: 'B' means blocked by credit check
    DeliveryBlock            nvarchar(2)    NULL,  -- LIFSK
    BillingBlock             nvarchar(2)    NULL,  -- FAKSK
    RejectionReason          nvarchar(2)    NULL,  -- ABGRU
    CompleteDeliveryFlag     nchar(1)       NULL,  -- AUTLF, SAP flag
    SalesEmployee            nvarchar(10)   NULL,
    SalesEmployeeName        nvarchar(80)   NULL,
    LastChangedOn            nvarchar(8)    NULL,  -- AEDAT, DATS
    LastChangedAt            datetime2(7)   NULL
);
GO

-- The contract's 67 columns, in contract order, with the contract's SQL Server types.
-- Raw SAP encodings pass through untouched: decoding them is the sync's job, not the view's.
-- CREATE VIEW must be alone in its batch on SQL Server, hence the GO above.
CREATE VIEW dbo.vwZSDOrder_Advanced
AS
SELECT
    SalesDocument,
    SalesDocumentItem,
    SalesDocumentType,
    SalesOrganization,
    DistributionChannel,
    Division,
    SalesOffice,
    SalesGroup,
    SoldToParty,
    SoldToName,
    ShipToParty,
    ShipToName,
    ShipToCity,
    ShipToRegion,
    ShipToCountry,
    CustomerPurchaseOrder,
    CustomerPODate,
    OrderCreatedOn,
    OrderCreatedAt,
    OrderCreatedBy,
    RequestedDeliveryDate,
    ScheduleLineDate,
    MaterialAvailabilityDate,
    PlannedGoodsIssueDate,
    Material,
    MaterialDescription,
    MaterialGroup,
    CustomerMaterial,
    Plant,
    StorageLocation,
    ShippingPoint,
    Route,
    ItemCategory,
    OrderQuantity,
    ConfirmedQuantity,
    DeliveredQuantity,
    OpenQuantity,
    SalesUnit,
    BaseUnit,
    NetPrice,
    CAST(PriceUnit AS int) AS PriceUnit,
    NetValue,
    OpenValue,
    TaxAmount,
    Currency,
    ExchangeRate,
    GrossWeight,
    NetWeight,
    WeightUnit,
    Volume,
    VolumeUnit,
    DeliveryPriority,
    -- Blocked when any block is set: delivery block, billing block, or a failed credit check.
    -- LTRIM(RTRIM()) so a blank '  ' block counts as no block on every engine, not only on
    -- SQL Server (which ignores trailing spaces when comparing).
    CAST(CASE
             WHEN LTRIM(RTRIM(DeliveryBlock)) <> N'' THEN 1
             WHEN LTRIM(RTRIM(BillingBlock)) <> N'' THEN 1
             WHEN CreditStatus = N'B' THEN 1
             ELSE 0
         END AS bit) AS IsBlocked,
    Incoterms,
    IncotermsLocation,
    PaymentTerms,
    OverallStatus,
    DeliveryStatus,
    CreditStatus,
    DeliveryBlock,
    BillingBlock,
    RejectionReason,
    CompleteDeliveryFlag,
    SalesEmployee,
    SalesEmployeeName,
    LastChangedOn,
    LastChangedAt
FROM dbo.ZSDOrderItem;
GO
