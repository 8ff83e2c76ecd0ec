package types

import (
	"github.com/cosmos/cosmos-sdk/codec"
	"github.com/cosmos/cosmos-sdk/codec/legacy"
	codectypes "github.com/cosmos/cosmos-sdk/codec/types"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/msgservice"
)

// RegisterLegacyAminoCodec registers the messages for amino JSON signing; names
// match the amino.name proto options.
func RegisterLegacyAminoCodec(cdc *codec.LegacyAmino) {
	legacy.RegisterAminoMsg(cdc, &MsgCreateRecords{}, "healthd/records/MsgCreateRecords")
	legacy.RegisterAminoMsg(cdc, &MsgAmendRecord{}, "healthd/records/MsgAmendRecord")
	legacy.RegisterAminoMsg(cdc, &MsgEraseRecord{}, "healthd/records/MsgEraseRecord")
	legacy.RegisterAminoMsg(cdc, &MsgAccessRecord{}, "healthd/records/MsgAccessRecord")
	legacy.RegisterAminoMsg(cdc, &MsgUpdateParams{}, "healthd/records/MsgUpdateParams")
	cdc.RegisterConcrete(&Params{}, "healthd/records/Params", nil)
}

// RegisterInterfaces registers the messages with the interface registry.
func RegisterInterfaces(registry codectypes.InterfaceRegistry) {
	registry.RegisterImplementations((*sdk.Msg)(nil),
		&MsgCreateRecords{}, &MsgAmendRecord{}, &MsgEraseRecord{}, &MsgAccessRecord{}, &MsgUpdateParams{},
	)
	msgservice.RegisterMsgServiceDesc(registry, &_Msg_serviceDesc)
}
